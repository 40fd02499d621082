"""Where a result came from: the commit (marked dirty when tracked files changed), the dvc.lock
hash, library versions and the host."""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

from ml.provenance import file_hash, git_commit, library_versions, provenance
from tests.ml.conftest import GitRepo


def test_a_clean_checkout_is_its_commit(git_repo: GitRepo) -> None:
    sha = git_repo.commit({"dvc.lock": "schema: '2.0'\n"})
    assert git_commit() == sha
    (git_repo.path / "untracked.txt").write_text("not part of the commit")
    assert git_commit(git_repo.path) == sha  # untracked files do not make it dirty


def test_changed_tracked_files_mark_the_commit_dirty(git_repo: GitRepo) -> None:
    sha = git_repo.commit({"params.yaml": "train: {}\n"})
    (git_repo.path / "params.yaml").write_text("train: {epochs: 1}\n")
    assert git_commit() == f"{sha}-dirty"


def test_outside_git_there_is_no_commit(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None
    assert git_commit(tmp_path / "missing") is None


def test_file_hash_is_the_sha256_of_the_bytes(tmp_path: Path) -> None:
    lock = tmp_path / "dvc.lock"
    lock.write_bytes(b"schema: '2.0'\n")
    assert file_hash(lock) == hashlib.sha256(b"schema: '2.0'\n").hexdigest()
    assert file_hash(tmp_path / "absent.lock") is None
    assert file_hash(tmp_path) is None  # a directory is not a file


def test_versions_name_python_and_the_installed_libraries() -> None:
    versions = library_versions()
    assert versions["python"] == platform.python_version()
    assert {"numpy", "onnx", "mlflow"} <= set(versions)


def test_provenance_of_the_working_directory(git_repo: GitRepo) -> None:
    sha = git_repo.commit({"dvc.lock": "schema: '2.0'\n"})
    record = provenance()
    assert record["git_commit"] == sha
    assert record["dvc_lock_sha256"] == hashlib.sha256(b"schema: '2.0'\n").hexdigest()
    assert record["host"] == platform.node()
