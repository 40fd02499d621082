"""The serving image: its Dockerfile passes hadolint, the files it copies are enough to serve,
and, where a Docker daemon answers, it builds and serves a model. Without a daemon the build
test is skipped with the reason, and the docker target fails with a clear message."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ml.config import parse_params
from ml.deploy.docker import DockerError, DockerTarget
from ml.deploy.registry import RegisteredModel
from tests.paths import REPO_ROOT
from tests.serving import free_port, wait_ready

HADOLINT = Path(sys.executable).parent / "hadolint"


def docker_daemon() -> str | None:
    """None when a daemon answers, else why not."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return f"no Docker daemon answers `docker info`: {info.stderr.strip()[-200:]}"
    return None


def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "Dockerfile"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def image_files() -> list[str]:
    """The sources of the final stage's COPY lines (relative to the build context)."""
    copies = re.findall(r"^COPY (?!--from)(.+) \S+$", (REPO_ROOT / "Dockerfile").read_text(), re.M)
    return [source for line in copies for source in line.split()]


def test_the_files_the_image_copies_are_enough_to_serve(digits_onnx, tmp_path):
    app = tmp_path / "app"
    for source in image_files():
        if source.startswith(("ml/", "ml\\")):
            target = app / source
            if (REPO_ROOT / source).is_dir():
                shutil.copytree(
                    REPO_ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO_ROOT / source, target)
    assert sorted(p.name for p in (app / "ml").iterdir()) == [
        "__init__.py",
        "config.py",
        "datasets.py",
        "dotted.py",
        "errors.py",
        "options.py",
        "serve",
    ]
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "ml.serve", "--model", str(digits_onnx), "--port", str(port)],
        cwd=app,  # `ml` comes from this copy, not from the repository
        env=os.environ | {"PYTHONPATH": str(app)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process=process)
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        process.terminate()
        process.wait(20)


def test_docker_target_without_a_daemon_fails_clearly(tmp_path):
    reason = docker_daemon()
    if reason is None:
        pytest.skip("a Docker daemon answers here; the build test below covers the target")
    params = parse_params({"serve": {"model_name": "digits"}})
    target = DockerTarget(tmp_path, params, REPO_ROOT / "params.yaml", context=REPO_ROOT)
    model = RegisteredModel("digits", "1", "0" * 64, tmp_path / "model.onnx", "file:///m")
    with pytest.raises(DockerError, match=r"docker is not installed|`docker info` failed"):
        target.deploy(model, timeout=5)


@pytest.mark.e2e
def test_image_builds_and_serves(digits_onnx, tmp_path):
    reason = docker_daemon()
    if reason:
        pytest.skip(reason)
    if not any((REPO_ROOT / "build/wheelhouse").glob("*.whl")):
        pytest.skip("build/wheelhouse is empty: run `make wheelhouse` first")
    tag = "runwright-serve:test"
    subprocess.run(["docker", "build", "-t", tag, str(REPO_ROOT)], check=True, timeout=900)
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(digits_onnx, models / "model.onnx")
    port = free_port()
    container = subprocess.run(
        [
            "docker",
            "run",
            "--detach",
            "--rm",
            "--publish",
            f"127.0.0.1:{port}:8080",
            "--volume",
            f"{models}:/models:ro",
            tag,
            "--model",
            "/models/model.onnx",
            "--host",
            "0.0.0.0",
            "--port",
            "8080",
            "--name",
            "digits",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        metadata = httpx.get(f"http://127.0.0.1:{port}/v2/models/digits").json()
        assert metadata["inputs"][0]["shape"] == [-1, 8, 8, 1]
        listing = subprocess.run(
            [
                "docker",
                "run",
                "--rm",
                "--entrypoint",
                "python3",
                tag,
                "-c",
                "import importlib.util as u; print([m for m in ('tensorflow', 'keras', 'pandas', "
                "'mlflow', 'onnx') if u.find_spec(m)])",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert listing.strip() == "[]"  # onnxruntime only: no training stack in the image
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True)
