"""The MLflow model registry as the record of deployments, on a real sqlite store: versions
registered with their file's hash, the exact file fetched back, aliases moved and removed, and
clear errors for what is not there. (Deploys that promote and roll back: test_flow.py.)"""

from __future__ import annotations

import hashlib
import shutil

import mlflow
import pytest

from ml import tracking
from ml.deploy.registry import CHALLENGER, CHAMPION, Registry, RegistryError, store_uri


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One sqlite store for the module (creating its tables takes seconds); each test registers
    a model of its own name."""
    root = tmp_path_factory.mktemp("registry")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        patch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        patch.chdir(root)
        yield root


@pytest.fixture
def registry(store, request) -> Registry:
    return Registry(request.node.name.removeprefix("test_")[:40], store / "models")


def test_each_registration_is_a_new_version_with_its_files_hash(registry, digits_onnx):
    first = registry.register(digits_onnx, None, {"git_commit": "abc"})
    second = registry.register(digits_onnx, None, {})
    assert (first.version, second.version) == ("1", "2")
    sha256 = hashlib.sha256(digits_onnx.read_bytes()).hexdigest()
    assert first.sha256 == sha256 and first.short_sha == sha256[:12]
    assert first.file.read_bytes() == digits_onnx.read_bytes()  # the exact file, fetched back
    assert first.artifact_uri
    tags = mlflow.MlflowClient().get_model_version(registry.name, "1").tags
    assert tags == {"git_commit": "abc", "sha256": sha256}


def test_the_training_run_holds_the_model_when_it_is_in_this_store(registry, digits_onnx):
    with tracking.start_run(None, run_name="train") as run:
        pass
    client = mlflow.MlflowClient()
    model = registry.register(digits_onnx, run.info.run_id, {})
    assert client.get_model_version(registry.name, model.version).run_id == run.info.run_id
    elsewhere = registry.register(digits_onnx, "f" * 32, {})  # a run of another store
    new_run = client.get_model_version(registry.name, elsewhere.version).run_id
    assert new_run is not None and new_run not in (run.info.run_id, "f" * 32)
    assert client.get_run(new_run).info.run_name == f"deploy {registry.name}"


def test_aliases_move_and_go(registry, digits_onnx):
    registry.register(digits_onnx, None, {})
    registry.register(digits_onnx, None, {})
    assert registry.alias(CHAMPION) is None
    registry.set_alias(CHAMPION, "1")
    registry.set_alias(CHALLENGER, "2")
    assert (registry.alias(CHAMPION), registry.alias(CHALLENGER)) == ("1", "2")
    registry.set_alias(CHAMPION, "2")
    assert registry.alias(CHAMPION) == "2"
    registry.delete_alias(CHALLENGER)
    registry.delete_alias(CHALLENGER)  # already gone: nothing to do
    assert registry.alias(CHALLENGER) is None


def test_a_version_that_does_not_exist_is_a_registry_error(registry, digits_onnx):
    registry.register(digits_onnx, None, {})
    with pytest.raises(RegistryError, match=f"cannot fetch {registry.name} version 9: "):
        registry.fetch("9")


def test_in_a_workflow_job_the_registry_outlives_the_checkout(tmp_path, monkeypatch, digits_onnx):
    """No MLFLOW_TRACKING_URI in a workflow job: the next job's checkout cleans the workspace, so
    the registry (store and artifacts) lives in the deployment's state, and the champion a
    rollback returns to is still there for the next release."""
    workspace, state = tmp_path / "workspace", tmp_path / "tool-cache" / "deploy"
    workspace.mkdir()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.chdir(workspace)
    first = Registry("digits", state / "registry")
    registered = first.register(digits_onnx, None, {})
    first.set_alias(CHAMPION, registered.version)
    assert list(workspace.iterdir()) == []  # nothing in the checkout
    shutil.rmtree(state / "registry" / f"digits-v{registered.version}")  # only the download

    again = Registry("digits", state / "registry")
    assert again.alias(CHAMPION) == registered.version
    assert again.fetch(registered.version).file.read_bytes() == digits_onnx.read_bytes()
    assert (state / "registry" / "mlflow.db").is_file()
    assert list((state / "registry" / "artifacts").iterdir())


def test_outside_workflows_the_registry_is_the_trainings_store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert store_uri(tmp_path / "registry") == tracking.DEFAULT_TRACKING_URI
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert store_uri(tmp_path / "registry") == "http://mlflow.example:5000"
