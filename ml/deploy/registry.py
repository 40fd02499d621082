"""The MLflow model registry as the record of what is deployed: each deploy registers the ONNX
model as a new version with alias `challenger`; a version that passes its smoke test becomes
`champion`. Rollbacks and the monitor redeploy the champion's own file, fetched from here.

The registry is the MLflow store of MLFLOW_TRACKING_URI. Unset, it is the training's default
(sqlite:///mlflow.db in the working directory), except in a workflow job: there the working
directory is a checkout that the next job cleans, and with it the record of the champion a
rollback returns to, so the registry lives with the deployment's state instead."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ml import tracking
from ml.errors import UserError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

CHALLENGER = "challenger"
CHAMPION = "champion"
ONNX_FILE = "model.onnx"  # the file name mlflow.onnx gives the model inside its artifacts


class RegistryError(UserError):
    """The registry cannot be reached or lacks what was asked for."""


def store_uri(workdir: Path) -> str:
    """The registry's MLflow store: MLFLOW_TRACKING_URI; unset, in a workflow job, an SQLite
    file in `workdir` (the deployment's state), elsewhere the training's default."""
    if os.environ.get("MLFLOW_TRACKING_URI") or os.environ.get("GITHUB_ACTIONS") != "true":
        return tracking.tracking_uri()
    return f"sqlite:///{(workdir / 'mlflow.db').resolve()}"


@dataclasses.dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    sha256: str
    file: Path  # a local copy of the registered ONNX file
    artifact_uri: str  # where the registry keeps the model directory (for KServe's storageUri)

    @property
    def short_sha(self) -> str:
        return self.sha256[:12]


class Registry:
    def __init__(self, name: str, workdir: Path) -> None:
        import mlflow
        from mlflow import MlflowClient

        self.name = name
        self.workdir = workdir
        # Downloads of a few files need no progress bar in CI logs.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self.uri = store_uri(workdir)
        with_state = self.uri != tracking.tracking_uri()
        if with_state:
            workdir.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self.uri)
        self.client = MlflowClient()
        if with_state:
            self.keep_artifacts_in(workdir / "artifacts")

    def keep_artifacts_in(self, folder: Path) -> None:
        """Create the experiment with its artifacts in `folder`: by default MLflow puts them
        in ./mlruns, in the working directory."""
        name = tracking.experiment_name()
        if self.client.get_experiment_by_name(name) is None:
            folder.mkdir(parents=True, exist_ok=True)
            self.client.create_experiment(name, artifact_location=folder.resolve().as_uri())

    def register(
        self, onnx_path: Path, run_id: str | None, tags: dict[str, str]
    ) -> RegisteredModel:
        """Log `onnx_path` as an MLflow ONNX model (in the training run when it is in this
        store, else in a new run) and register it as the next version of the model."""
        import mlflow
        import onnx

        run_id = run_id if run_id and self.run_exists(run_id) else None
        with tracking.start_run(run_id, run_name=f"deploy {self.name}", uri=self.uri):
            info = mlflow.onnx.log_model(
                onnx.load(str(onnx_path)),
                name="model",
                registered_model_name=self.name,
                save_as_external_data=False,  # one self-contained file, as exported
                pip_requirements=["onnxruntime", "numpy"],
                await_registration_for=60,
            )
        version = str(info.registered_model_version)
        model = self.fetch(version)
        for key, value in (tags | {"sha256": model.sha256}).items():
            self.client.set_model_version_tag(self.name, version, key, value)
        return model

    def run_exists(self, run_id: str) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_run(run_id)
        except MlflowException:
            return False
        return True

    def fetch(self, version: str) -> RegisteredModel:
        """Download a version's ONNX file into the work directory."""
        import mlflow
        from mlflow.exceptions import MlflowException

        target = self.workdir / f"{self.name}-v{version}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        try:
            details = self.client.get_model_version(self.name, version)
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{self.name}/{version}", dst_path=str(target)
            )
        except MlflowException as exc:
            raise RegistryError(f"cannot fetch {self.name} version {version}: {exc}") from None
        path = Path(local) / ONNX_FILE
        if not path.is_file():
            raise RegistryError(f"{self.name} version {version} has no {ONNX_FILE}")
        sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        return RegisteredModel(self.name, version, sha256, path, self.artifact_uri(details))

    def artifact_uri(self, details: ModelVersion) -> str:
        if details.model_id:
            return self.client.get_logged_model(details.model_id).artifact_location
        if details.source is None:
            raise RegistryError(f"{self.name} version {details.version} records no location")
        return details.source

    def alias(self, alias: str) -> str | None:
        """The version holding `alias`, or None."""
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except MlflowException:
            return None

    def set_alias(self, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(self.name, alias, version)

    def delete_alias(self, alias: str) -> None:
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):  # already absent
            self.client.delete_registered_model_alias(self.name, alias)

    def tag(self, version: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(self.name, version, key, value)
