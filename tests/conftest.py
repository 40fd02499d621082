"""Shared fixtures: a tiny configuration, a real Git + DVC repository holding the kit, the
prepared digits data and its ONNX model, an image folder and its ONNX model, an MLflow store,
and the fake GitHub API. Helpers that are not fixtures live in tests/helpers.py."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.browser import chromium
from tests.fake_github import FakeGitHub
from tests.helpers import run
from tests.paths import REPO_ROOT

# What a user's repository needs to run the pipeline (the package is run with `python -m ml`).
PIPELINE_FILES = (
    "ml",
    "dvc.yaml",
    "params.yaml",
    ".dvc/config",
    ".dvc/.gitignore",
    ".dvcignore",
    ".gitignore",
    "data/raw/README.md",
    # What a local deployment's runtime installs (ml/deploy/runtime.py), as in the kit's checkout.
    "requirements/serve.in",
)

TINY_TRAIN = {
    "model": "cnn",
    "epochs": 3,
    "batch_size": 64,
    "learning_rate": 0.005,
    "cnn": {"filters": [8], "dense_units": 16, "dropout_rate": 0.1},
}


def tiny_params(**train_overrides) -> dict:
    """The shipped params.yaml with a CNN small enough to train in about a second."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params["train"].update(TINY_TRAIN | train_overrides)
    return params


def tool_env(tmp_path: Path) -> dict[str, str]:
    """Environment for subprocesses: this venv's tools first, MLflow in the repository."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@localhost"
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def make_pipeline_repo(path: Path, params: dict) -> tuple[Path, dict]:
    """A fresh Git repository with the kit's pipeline and `params`, committed."""
    path.mkdir(parents=True, exist_ok=True)
    for name in PIPELINE_FILES:
        source = REPO_ROOT / name
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)
    (path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = tool_env(path)
    run(["git", "init", "-q", "-b", "main"], path, env)
    run(["git", "add", "-A"], path, env)
    run(["git", "commit", "-q", "-m", "pipeline"], path, env)
    return path, env


@pytest.fixture
def pipeline_repo(tmp_path):
    return make_pipeline_repo(tmp_path / "repo", tiny_params())


@pytest.fixture(scope="session")
def prepared_digits(tmp_path_factory) -> Path:
    """data/prepared for the bundled digits set, made once per test session."""
    from ml.config import PrepareParams
    from ml.prepare import prepare

    out = tmp_path_factory.mktemp("prepared") / "digits"
    prepare(PrepareParams(), out)
    return out


@pytest.fixture(scope="session")
def digits_onnx(prepared_digits, tmp_path_factory) -> Path:
    """A linear model of the digits as an ONNX file (tests/serving.py), made once per session."""
    from tests.serving import linear_model

    return linear_model(prepared_digits, tmp_path_factory.mktemp("digits") / "model.onnx")


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """Circles, squares and crosses in three colours: PNG and JPEG files of varying sizes."""
    from tests.image_folders import write_image_folder

    return write_image_folder(tmp_path_factory.mktemp("images") / "shapes", per_class=12)


@pytest.fixture(scope="session")
def image_onnx(image_folder) -> Path:
    """A classifier of 16 x 16 RGB images, trained on `image_folder` prepared by the real
    `prepare`; its metadata records the decoding rule, as `ml export` writes it."""
    from ml.config import PrepareParams
    from ml.prepare import prepare
    from tests.serving import linear_model

    root = image_folder.parent
    params = PrepareParams(
        source={"images": str(image_folder)}, image={"size": [16, 16], "color_mode": "rgb"}
    )
    prepare(params, root / "prepared")
    return linear_model(root / "prepared", root / "model.onnx")


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch) -> str:
    """An isolated MLflow sqlite store; the experiment is named after the working directory."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.chdir(tmp_path)
    return uri


@pytest.fixture
def fake_github(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The fake GitHub REST API (tests/fake_github.py) on 127.0.0.1, with GITHUB_API_URL,
    GITHUB_REPOSITORY and GITHUB_TOKEN pointing at it."""
    with FakeGitHub() as fake:
        for name, value in fake.environment().items():
            monkeypatch.setenv(name, value)
        yield fake


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for the web page tests (tests/browser.py)."""
    with chromium() as launched:
        yield launched
