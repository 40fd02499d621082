"""Helpers every kind of test shares (fixtures live in the conftest.py files): running a process,
running `ml` as a process, and reading the step outputs a command wrote."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.paths import REPO_ROOT

DELIMITED = re.compile(r"^([\w-]+)<<(.+)$")


def run(args: list[str], cwd: Path, env: dict, check: bool = True, **kwargs):
    """Run a process, capturing its output; with `check`, a failure shows both streams."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout}"
            f"\n--- stderr\n{result.stderr}"
        )
    return result


def run_ml(
    *args: str,
    cwd: Path = REPO_ROOT,
    env: dict | None = None,
    check: bool = False,
    timeout: float = 300,
    module: str = "ml",
) -> subprocess.CompletedProcess:
    """`python -m ml ARGS` as a real process: the exit status, stdout and stderr a workflow step
    or `dvc repro` sees. `env` is the whole environment (default: this one). This checkout's `ml`
    is on PYTHONPATH, so the process runs it from any directory; a `cwd` holding its own copy (a
    pipeline repository) runs that copy, as `python -m` puts the directory first."""
    environment = dict(os.environ if env is None else env)
    paths = [str(REPO_ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return run(
        [sys.executable, "-m", module, *args], cwd, environment, check=check, timeout=timeout
    )


def read_outputs(path: Path) -> dict[str, str]:
    """Parse GITHUB_OUTPUT (or GITHUB_ENV) as the runner does: `name=value` lines and
    `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        block = DELIMITED.match(line)
        if block:
            name, delimiter, body = block[1], block[2], []
            for part in lines:
                if part == delimiter:
                    break
                body.append(part)
            else:
                raise ValueError(f"{path.name}: {name} is never closed by {delimiter}")
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs
