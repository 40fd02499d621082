"""Training once for a pull request and never again for its merge, with real DVC and Git.

The "PR job" trains, commits dvc.lock and the Git-tracked metrics, and pushes data and run-cache
to a DVC remote (a local directory here; S3, GCS or Azure in production). The "merge job" is a
fresh clone that pulls and reproduces: every stage must be up to date, with no training and no
MLflow run. A second job on the same machine, without that dvc.lock, gets the run-cache hit
from a shared cache directory instead (docs/team-scale.md has the commands)."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import make_pipeline_repo, tiny_params
from tests.helpers import run

pytestmark = pytest.mark.e2e

TRAINED_FILES = ("dvc.lock", "metrics", "plots", "data/.gitignore", "models/.gitignore")


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pr_job(tmp_path_factory):
    """The pull request's job: train, commit the results, push data and run-cache."""
    base = tmp_path_factory.mktemp("dvc-remote")
    repo, env = make_pipeline_repo(base / "pr", tiny_params())
    run(["dvc", "remote", "add", "--default", "storage", str(base / "remote")], repo, env)
    run(["git", "commit", "-qam", "DVC remote"], repo, env)
    untrained = run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()
    # This machine's cache, shared by every job that runs here (config.local: not committed).
    run(["dvc", "cache", "dir", "--local", str(base / "shared-cache")], repo, env)
    trained = run(["dvc", "repro"], repo, env)
    assert "Running stage 'train'" in trained.stdout
    run(["git", "add", *TRAINED_FILES], repo, env)
    run(["git", "commit", "-qm", "Train"], repo, env)
    pushed = run(["dvc", "push", "--run-cache"], repo, env)
    assert "pushed" in pushed.stdout
    return base, repo, env, untrained


def test_merge_job_pulls_instead_of_training_again(pr_job):
    base, pr_repo, env, _ = pr_job
    merge = base / "merge"
    run(["git", "clone", "-q", str(pr_repo), str(merge)], base, env)
    pulled = run(["dvc", "pull", "--run-cache"], merge, env)
    assert "models/model.keras" in pulled.stdout
    result = run(["dvc", "repro"], merge, env)
    assert "Stage 'train' didn't change, skipping" in result.stdout
    assert "Running stage" not in result.stdout
    assert "up to date" in run(["dvc", "status"], merge, env).stdout
    assert not (merge / "mlflow.db").exists()  # no training, so no MLflow run
    for name in ("models/model.keras", "models/model.onnx", "metrics/train.json"):
        assert digest(merge / name) == digest(pr_repo / name), name


def test_job_without_the_lock_file_hits_the_shared_run_cache(pr_job):
    base, pr_repo, env, untrained = pr_job
    job = base / "same-machine"
    run(["git", "clone", "-q", str(pr_repo), str(job)], base, env)
    run(["git", "checkout", "-q", untrained], job, env)
    assert not (job / "dvc.lock").exists()
    run(["dvc", "cache", "dir", "--local", str(base / "shared-cache")], job, env)
    result = run(["dvc", "repro"], job, env)
    assert "Stage 'train' is cached - skipping run, checking out outputs" in result.stdout
    assert "Running stage" not in result.stdout
    assert not (job / "mlflow.db").exists()
    # Restored from the run-cache, Git-tracked metrics included.
    assert digest(job / "metrics/train.json") == digest(pr_repo / "metrics/train.json")
    assert digest(job / "models/model.keras") == digest(pr_repo / "models/model.keras")
