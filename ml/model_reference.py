"""A reference to a team's own model code in `train.model`: `models/net.py:build` (a file in the
repository, relative to it) or `mypackage.models:build` (an installed module).

Checked without importing anything: the file exists and defines the function at its top level
(read with `ast`), or the module's top-level package is installed. Every command validates
params.yaml, and most of them (route, gate, report) must not pay for TensorFlow; importing and
calling the function is ml.user_model's job, at the start of `ml train`.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
FILE_REFERENCE = re.compile(
    rf"^(?P<path>[A-Za-z0-9_.][A-Za-z0-9_./-]*\.py):(?P<name>{IDENTIFIER})$"
)
MODULE_REFERENCE = re.compile(
    rf"^(?P<module>{IDENTIFIER}(\.{IDENTIFIER})*):(?P<name>{IDENTIFIER})$"
)
EXAMPLES = "models/net.py:build (a file) or mypackage.models:build (an installed module)"


@dataclass(frozen=True)
class Reference:
    text: str
    function: str
    path: str | None = None  # a file, relative to the project root
    module: str | None = None  # an importable module

    @property
    def where(self) -> str:
        return self.path or self.module or ""


def parse(text: str) -> Reference:
    """The reference `text` names, checked against the file system; ValueError says why not."""
    if match := FILE_REFERENCE.match(text):
        path = match["path"]
        if ".." in Path(path).parts:
            raise ValueError(f"{text!r}: the file must be inside the project, without '..'")
        reference = Reference(text, match["name"], path=path)
        check_file(reference)
        return reference
    if match := MODULE_REFERENCE.match(text):
        reference = Reference(text, match["name"], module=match["module"])
        check_module(reference)
        return reference
    raise ValueError(f"{text!r} is not cnn, mlp, or a reference to a build function: {EXAMPLES}")


def check_file(reference: Reference) -> None:
    path = Path(str(reference.path))
    if not path.is_file():
        raise ValueError(f"{reference.text!r}: no such file {path} (relative to {Path.cwd()})")
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"{reference.text!r}: {path} is not valid Python: {exc}") from None
    defined = {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    if reference.function not in defined:
        known = ", ".join(sorted(defined)) or "none"
        raise ValueError(
            f"{reference.text!r}: {path} defines no top-level function {reference.function!r} "
            f"(functions defined there: {known})"
        )


def check_module(reference: Reference) -> None:
    # Only the top-level package: finding a submodule imports its parents, which may be heavy.
    package = str(reference.module).split(".")[0]
    if importlib.util.find_spec(package) is None:
        raise ValueError(f"{reference.text!r}: no installed module {package!r}")
