"""The local deployment's own Python environment, in its state folder, so that the service
outlives the environment that deployed it.

In a workflow job `ml deploy` runs from the job's `.venv`, with the kit's code in the job's
workspace; the next job's checkout (`git clean -ffdx`), or the end of an act job, removes both.
A service started from there could not be started again after a crash. So the service and its
supervisor run from `<state>/local/runtime-<key>/`: a virtual environment on the base
interpreter (which lives outside the workspace: setup-python's tool cache, uv's or pyenv's
pythons), holding the distributions the service needs (requirements/serve.in and what they
require, as installed here) hard-linked from this environment, copied where the state folder is
on another file system, and a copy of the `ml` package.

`key` hashes the interpreter, the versions of those distributions and the `ml` sources: an
unchanged environment reuses the runtime (about 20 ms to check), a new kit version or lock
builds a new one beside it (about 1 s hard-linked) and the deployment restarts onto it."""

from __future__ import annotations

import compileall
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import venv
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import ml
from ml.errors import UserError

PREFIX = "runtime-"
COMPLETE = ".complete"  # written last: a runtime without it was cut short and is rebuilt


def serving_python(directory: Path) -> Path:
    """The interpreter of the runtime for this environment under `directory`, built if needed."""
    distributions = serving_distributions(kit_requirements())
    package = Path(ml.__file__).parent
    base = base_interpreter()
    root = directory / f"{PREFIX}{runtime_key(base, distributions, package)}"
    if not (root / COMPLETE).exists():
        build(root, distributions, package)
    return root / "bin" / "python"


def prune(directory: Path, keep: Path) -> None:
    """Remove the runtimes under `directory` but the one `keep` (its python) belongs to."""
    for path in directory.glob(f"{PREFIX}*"):
        if path.is_dir() and path != keep.parent.parent:
            shutil.rmtree(path, ignore_errors=True)


def base_interpreter() -> Path:
    """The interpreter this one's virtual environment (if any) was made from."""
    return Path(getattr(sys, "_base_executable", None) or sys.executable)


def kit_requirements() -> list[Requirement]:
    """What the service needs, as the serving image installs it: requirements/serve.in."""
    source = Path(ml.__file__).parent.parent / "requirements" / "serve.in"
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"{source}: cannot read the serving requirements: {exc}") from None
    return [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]


def serving_distributions(requirements: list[Requirement]) -> list[metadata.Distribution]:
    """The installed distributions `requirements` need here, theirs included, by name."""
    environment = {key: str(value) for key, value in default_environment().items()}
    found: dict[str, metadata.Distribution] = {}
    pending = [(requirement, "") for requirement in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker and not requirement.marker.evaluate(environment | {"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        try:
            found[name] = distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise UserError(
                f"{requirement.name} is not installed, and the service needs it; install the "
                "kit's locked environment (make venv, or the setup action)"
            ) from None
        for needed in distribution.requires or []:
            child = Requirement(needed)
            pending += [(child, wanted) for wanted in requirement.extras or {""}]
    return sorted(found.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def runtime_key(base: Path, distributions: list[metadata.Distribution], package: Path) -> str:
    digest = hashlib.sha256()
    versions = [(d.metadata["Name"], d.version) for d in distributions]
    digest.update(json.dumps([str(base), sys.version, versions]).encode())
    for path in package_files(package):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def package_files(package: Path) -> list[Path]:
    return sorted(
        path for path in package.rglob("*") if path.is_file() and "__pycache__" not in path.parts
    )


def build(root: Path, distributions: list[metadata.Distribution], package: Path):
    """Make the runtime in a scratch folder beside `root`, then rename it into place."""
    scratch = root.with_name(f".{root.name}.{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        make_venv(scratch)
        (site_packages,) = scratch.glob("lib/python*/site-packages")
        for distribution in distributions:
            link_distribution(distribution, site_packages)
        for path in package_files(package):
            target = site_packages / "ml" / path.relative_to(package)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)  # copied: an editor may change the source in place
        # Byte-compiled once: each start of the service skips compiling the kit's modules.
        compileall.compile_dir(site_packages / "ml", quiet=1)
        (scratch / COMPLETE).write_text("")
        if root.exists() and not (root / COMPLETE).exists():  # one cut short
            shutil.rmtree(root, ignore_errors=True)
        try:
            os.replace(scratch, root)
        except OSError:  # a deploy beside this one finished the same runtime first
            if not (root / COMPLETE).exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def make_venv(path: Path) -> None:
    """A virtual environment on this one's base interpreter, without pip: nothing is ever
    installed into it."""
    venv.EnvBuilder(symlinks=True, with_pip=False).create(path)


def link_distribution(distribution: metadata.Distribution, site_packages: Path) -> None:
    """Every file the distribution installed below its site-packages, with the bytecode cached
    beside its modules."""
    origin = Path(str(distribution.locate_file("")))
    for recorded in distribution.files or []:
        if ".." in recorded.parts:  # scripts in bin/, headers: not what the service imports
            continue
        source = origin / recorded
        if not source.is_file():
            continue
        link(source, site_packages / recorded)
        if source.suffix == ".py":
            cached = Path(importlib.util.cache_from_source(str(source)))
            if cached.is_file():
                link(cached, site_packages / cached.relative_to(origin))


def link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # listed twice in the RECORD
        return
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not permitted
        shutil.copy2(source, target)
