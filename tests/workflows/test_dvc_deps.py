"""dvc.yaml lists, for each stage, exactly the kit modules its command imports: a change to any of
them re-runs the stage (DESIGN.md section 7), a change to any other module does not.

The import closure is read from the source with `ast`, not by importing: every `import` and
`from ... import` anywhere in a module counts, including the lazy ones inside functions, because
a stage runs those too. Package `__init__.py` files on the way count, since Python runs them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from ml.cli import COMMANDS
from tests.paths import REPO_ROOT

# What `python -m ml <stage>` runs before the stage's own module: the package, its __main__,
# and the CLI that picks the module from COMMANDS.
ENTRY = ("ml", "ml.__main__", "ml.cli")


def module_file(root: Path, name: str) -> Path | None:
    """The file that defines module `name` under `root`, or None when it is not in the package."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """Dotted names of every module the code may import, including `from m import submodule`."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: `from . import x` inside package `name`
                parts = name.split(".") if is_package else name.split(".")[:-1]
                anchor = parts[: len(parts) - node.level + 1]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def import_closure(root: Path, package: str, starts: list[str]) -> set[str]:
    """Files (relative to `root`) of every module of `package` reachable from `starts`."""
    seen: set[str] = set()
    pending = list(starts)
    while pending:
        name = pending.pop()
        if name in seen or not (name == package or name.startswith(f"{package}.")):
            continue
        path = module_file(root, name)
        if path is None:  # `from ml.x import some_function`: not a module
            continue
        seen.add(name)
        parts = name.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent __init__s
        tree = ast.parse(path.read_text(), filename=str(path))
        pending.extend(imported_names(tree, name, path.name == "__init__.py"))
    files = [module_file(root, name) for name in seen]
    return {file.relative_to(root).as_posix() for file in files if file is not None}


def stages() -> dict:
    return yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", list(stages()))
def test_stage_deps_are_exactly_the_kit_modules_it_imports(name: str) -> None:
    imported = import_closure(REPO_ROOT, "ml", [*ENTRY, COMMANDS[name]])
    listed = {dep for dep in stages()[name].get("deps", []) if dep.split("/")[0] == "ml"}
    missing, extra = sorted(imported - listed), sorted(listed - imported)
    assert not missing and not extra, (
        f"dvc.yaml stage {name}: add to deps {missing}; remove from deps {extra} "
        "(list files, not the ml/ folder: a folder would re-run every stage on any change)"
    )


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_closure_follows_lazy_submodule_relative_and_package_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/stage.py": "import json\nfrom pkg.util import helper\n"
            "def run():\n    from pkg import lazy\n",
            "pkg/util.py": "def helper(): ...\n",
            "pkg/lazy.py": "import pkg.sub.deep\n",
            "pkg/sub/__init__.py": "from . import rel\n",
            "pkg/sub/deep.py": "",
            "pkg/sub/rel.py": "from ..util import helper\n",
            "pkg/unused.py": "",
        },
    )
    assert import_closure(tmp_path, "pkg", ["pkg.stage"]) == {
        "pkg/__init__.py",
        "pkg/stage.py",
        "pkg/util.py",
        "pkg/lazy.py",
        "pkg/sub/__init__.py",
        "pkg/sub/deep.py",
        "pkg/sub/rel.py",
    }
