"""What `docker build` sends and copies, for the tests of the two Dockerfiles: the sources of
their COPY/ADD lines, and the build context as a .dockerignore file shapes it (matched by
docker-py, the Docker SDK for Python, which follows the Docker engine's rules).
"""

from __future__ import annotations

import itertools
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from fnmatch import fnmatch
from pathlib import Path


def clean(path: str) -> str:
    """A COPY source as Docker reads it: `./ml/` is `ml`."""
    return posixpath.normpath(path).lstrip("/") or "."


def read_patterns(text: str) -> list[str]:
    """A .dockerignore file's patterns: comments and blank lines dropped, as Docker reads it."""
    lines = (line.strip() for line in text.removeprefix("\ufeff").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def context_files(files: Iterable[str], patterns: Iterable[str]) -> set[str]:
    """Which of these files (paths relative to the context, `/`-separated) `docker build` sends,
    given the .dockerignore patterns: docker-py's own matcher (docker.utils.build), run on empty
    stand-ins of the files, since some (build outputs) need not exist here."""
    from docker.utils.build import exclude_paths

    with tempfile.TemporaryDirectory() as root:
        for file in files:
            (Path(root) / file).parent.mkdir(parents=True, exist_ok=True)
            (Path(root) / file).touch()
        sent = exclude_paths(root, list(patterns))
        return {path for path in sent if (Path(root) / path).is_file()}


def ignore_file(context: Path, dockerfile: Path, builder: str) -> Path:
    """The ignore file a builder reads: BuildKit prefers `<Dockerfile>.dockerignore` beside the
    Dockerfile; the legacy builder reads only the context's .dockerignore."""
    beside = dockerfile.with_name(dockerfile.name + ".dockerignore")
    if builder == "buildkit" and beside.is_file():
        return beside
    return context / ".dockerignore"


def instructions(dockerfile_text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in dockerfile_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or not stripped:
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    result = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        result.append((keyword.upper(), arguments.strip()))
    return result


def copies(dockerfile_text: str) -> list[tuple[list[str], str, str]]:
    """(sources, destination, working directory) of every COPY and ADD from the build context
    (not those copied from a stage or an image with --from), in order."""
    result, workdir = [], "/"
    for keyword, arguments in instructions(dockerfile_text):
        if keyword == "WORKDIR":
            workdir = posixpath.join(workdir, arguments)
        if keyword not in {"COPY", "ADD"}:
            continue
        flags = list(itertools.takewhile(lambda word: word.startswith("--"), arguments.split()))
        if any(flag.startswith("--from=") for flag in flags):
            continue
        rest = arguments.split(None, len(flags))[-1]
        paths = json.loads(rest) if rest.startswith("[") else rest.split()
        # An ADD of a URL or a Git repository takes nothing from the context.
        sources = [clean(path) for path in paths[:-1] if not re.match(r"\w+://|git@", path)]
        result.append((sources, paths[-1], workdir))
    return result


def copy_sources(dockerfile_text: str) -> list[str]:
    """The build-context sources of every COPY and ADD, in order."""
    return [source for sources, _, _ in copies(dockerfile_text) for source in sources]


def candidate_files(root: Path, sources: Iterable[str]) -> set[str]:
    """The files a build context could hold: what Git tracks, what lies under each source
    (build outputs such as build/wheelhouse are not tracked; __pycache__ left out), and a
    stand-in file inside each source that does not exist here (a folder made by a build step)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    files = {path for path in tracked.split("\0") if path}
    for source in sources:
        path = root / source
        if path.is_dir():
            files |= {
                file.relative_to(root).as_posix()
                for file in path.rglob("*")
                if file.is_file() and "__pycache__" not in file.parts
            }
        elif path.is_file():
            files.add(source)
        elif not any(char in source for char in "*?["):
            files.add(f"{source}/stand-in")
    return files


def build_context(root: Path, dockerfile: Path, builder: str) -> tuple[set[str], set[str]]:
    """(files the context could hold, files it holds) for a build of `dockerfile` with `root`
    as its context."""
    candidates = candidate_files(root, copy_sources(dockerfile.read_text()))
    ignore = ignore_file(root, dockerfile, builder)
    patterns = read_patterns(ignore.read_text()) if ignore.is_file() else []
    return candidates, context_files(candidates, patterns)


def under(source: str, files: Iterable[str]) -> set[str]:
    """The files a COPY source names: itself, what its folder holds, or what its wildcard
    matches."""
    return {f for f in files if f == source or f.startswith(source + "/") or fnmatch(f, source)}


def missing_from_context(root: Path, dockerfile: Path, builder: str) -> list[str]:
    """The COPY/ADD sources of a Dockerfile built with `root` as its context that the context
    lacks, in whole or in part, each with the files it misses."""
    candidates, sent = build_context(root, dockerfile, builder)
    problems = []
    for source in copy_sources(dockerfile.read_text()):
        wanted = under(source, candidates)
        lacking = sorted(wanted - sent)
        if not wanted or lacking:
            problems.append(f"{source}: {', '.join(lacking) or 'no such file'}")
    return problems


def copy_into_image(root: Path, dockerfile: Path, image: Path) -> None:
    """Copies what the Dockerfile's COPY lines take from the build context into `image` (the
    image's `/`), as COPY places them: a folder's contents into the destination, a file into a
    destination ending in `/` (or shared with other sources) under its own name. Sources made
    by a build step and absent here are skipped."""
    _, sent = build_context(root, dockerfile, "legacy")
    for sources, destination, workdir in copies(dockerfile.read_text()):
        target = posixpath.join(workdir, destination)
        into_folder = destination.endswith("/") or len(sources) > 1
        for source in sources:
            for file in sorted(under(source, sent)):
                if not (root / file).is_file():
                    continue
                if file != source:
                    path = posixpath.join(target, file[len(source) + 1 :])
                elif into_folder:
                    path = posixpath.join(target, posixpath.basename(file))
                else:
                    path = target
                (image / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / file, image / path.lstrip("/"))


# A Python command line that runs a module of `ml` as __main__ finding `ml` only on sys.path:
# it drops the editable install's import finder, which would quietly find a module that the
# copy lacks in this checkout.
ISOLATED = (
    "import runpy, sys; "
    "sys.meta_path[:] = [f for f in sys.meta_path "
    "if not getattr(f, '__module__', '').startswith('__editable__')]; "
    "runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
)


def run_module_command(module: str) -> list[str]:
    """`python -c ...`: runs `module` with `ml` from the working directory (or PYTHONPATH)."""
    return [sys.executable, "-c", ISOLATED.format(module=module)]
