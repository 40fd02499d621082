"""Where a result came from: git commit, dvc.lock hash, library versions, host."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path

LIBRARIES = (
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "onnx",
    "onnxruntime",
    "tf2onnx",
    "mlflow",
    "dvc",
    "numpy",
    "scikit-learn",
)


def git_commit(cwd: str | Path = ".") -> str | None:
    """HEAD's full SHA with a '-dirty' suffix when tracked files differ; None outside Git."""
    try:
        sha = run_git(["rev-parse", "HEAD"], cwd)
        dirty = run_git(["status", "--porcelain", "--untracked-files=no"], cwd)
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def run_git(args: list[str], cwd: str | Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def file_hash(path: str | Path) -> str | None:
    path = Path(path)
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance() -> dict:
    return {
        "git_commit": git_commit(),
        "dvc_lock_sha256": file_hash("dvc.lock"),
        "versions": library_versions(),
        "host": platform.node(),
        "platform": platform.platform(),
    }
