"""A local deployment shared by the deploy and monitor tests (fixture `deployment` in
tests/ml/conftest.py): a real MLflow store (sqlite in a temporary directory), `ml deploy` run as
the CLI, the service under its supervisor on a free loopback port. It starts with version 1 of
the digits model as the champion; every test leaves that version serving."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import yaml

from tests.conftest import tool_env
from tests.helpers import run_ml
from tests.paths import REPO_ROOT
from tests.serving import free_port, linear_model


@dataclasses.dataclass
class Deployment:
    root: Path
    params: Path
    state: Path
    env: dict[str, str]
    url: str
    good: Path
    bad: Path

    def deploy(self, model: Path, *extra: str, check: bool = True, env: dict | None = None):
        options = ["--model", str(model), "--params", str(self.params)]
        options += ["--state-dir", str(self.state), *extra]
        return run_ml("deploy", *options, cwd=self.root, env=self.env | (env or {}), check=check)

    def registry(self):
        from mlflow import MlflowClient

        return MlflowClient(self.env["MLFLOW_TRACKING_URI"])


def sha12(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def deploy_params(path: Path, port: int) -> Path:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["serve"] = {
        "model_name": "digits",
        "port": port,
        "workers": 1,
        "reload_interval_seconds": 0.2,
        "sample_every": 1,
    }
    params["deploy"] = {"target": "local", "smoke": {"timeout_seconds": 30, "min_accuracy": 0.5}}
    params["monitor"] = {"probe_attempts": 2, "probe_timeout_seconds": 2, "min_samples": 50}
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def local_deployment(prepared_digits: Path, tmp_path_factory):
    root = tmp_path_factory.mktemp("deployment")
    port = free_port()
    env = tool_env(root) | {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    deployed = Deployment(
        root=root,
        params=deploy_params(root / "params.yaml", port),
        state=root / ".deploy",
        env=env,
        url=f"http://127.0.0.1:{port}",
        good=linear_model(prepared_digits, root / "good.onnx"),
        bad=linear_model(prepared_digits, root / "bad.onnx", weight_scale=0.0),
    )
    deployed.deploy(deployed.good)
    yield deployed
    deployed.deploy(deployed.good, "--stop", check=False)
