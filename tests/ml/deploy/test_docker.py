"""The serving image: its Dockerfile passes hadolint, its build context holds every file it
copies, those files are enough to serve, the docker target's tag changes with every input of
the build (checked against a stand-in `docker` that records its command lines), and, where a
Docker daemon answers (scripts/docker-test-daemon.sh starts one, with a base image it imports
as RUNWRIGHT_TEST_BASE_IMAGE), the real image: built, run, healthy, serving metadata and
predictions; `ml deploy --target docker` promoting a version, rolling back one that fails its
smoke test, and `--stop`. Without a daemon those tests skip with the reason, and the docker
target fails with a clear message."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import yaml

from ml.config import parse_params
from ml.deploy.docker import IMAGE_INPUTS, DockerError, DockerTarget
from ml.deploy.registry import RegisteredModel
from ml.io import load_split
from tests.conftest import tool_env
from tests.deployment import Deployment, deploy_params, sha12
from tests.docker_context import (
    copy_into_image,
    copy_sources,
    instructions,
    missing_from_context,
    run_module_command,
)
from tests.paths import REPO_ROOT
from tests.serving import free_port, linear_model, wait_ready

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


DOCKERFILE = REPO_ROOT / "Dockerfile"


def image_files() -> list[str]:
    """The build-context sources of the Dockerfile's COPY lines."""
    return copy_sources(DOCKERFILE.read_text())


@pytest.mark.parametrize("builder", ["legacy", "buildkit"])
def test_the_build_context_holds_every_file_the_image_copies(builder):
    assert missing_from_context(REPO_ROOT, DOCKERFILE, builder) == []


def test_the_files_the_image_copies_are_enough_to_serve(image_onnx, image_folder, tmp_path):
    copy_into_image(REPO_ROOT, DOCKERFILE, tmp_path / "image")
    app = tmp_path / "image/app"  # the image's WORKDIR
    assert sorted(p.name for p in (app / "ml").iterdir()) == [
        "__init__.py",
        "config.py",
        "data",
        "datasets.py",
        "dotted.py",
        "errors.py",
        "model_reference.py",
        "options.py",
        "serve",
    ]
    assert sorted(p.name for p in (app / "ml" / "data").iterdir()) == ["__init__.py", "images.py"]
    assert not list(app.rglob("__pycache__"))
    port = free_port()
    process = subprocess.Popen(
        [*run_module_command("ml.serve"), "--model", str(image_onnx), "--port", str(port)],
        cwd=app,  # `ml` comes from this copy only, not from the repository
        env=os.environ | {"PYTHONPATH": str(app)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process=process)
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
        # An encoded image, decoded by ml/data/images.py as the image copies it.
        png = next(image_folder.glob("circle/*.png")).read_bytes()
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/models/model:predict",  # named after the file
            json={"instances": [{"b64": base64.b64encode(png).decode()}]},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["label"] == "circle"
    finally:
        process.terminate()
        process.wait(20)


def kit_context(tmp_path: Path) -> Path:
    """A build context with what the serving image is built from, and a wheelhouse."""
    context = tmp_path / "kit"
    for name in ["Dockerfile", ".dockerignore", *image_files()]:
        source, target = REPO_ROOT / name, context / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, target)
    (context / "build/wheelhouse").mkdir(parents=True, exist_ok=True)
    (context / "build/wheelhouse/numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl").write_bytes(
        b"a wheel"
    )
    return context


def docker_target(tmp_path: Path, context: Path, **docker: str) -> DockerTarget:
    params = parse_params({"serve": {"model_name": "digits"}, "deploy": {"docker": docker}})
    return DockerTarget(tmp_path / "state", params, context=context)


def test_the_tag_covers_every_file_the_build_reads():
    assert sorted(IMAGE_INPUTS) == sorted({"Dockerfile", ".dockerignore", *image_files()})


def test_the_image_tag_changes_with_every_input_of_the_build(tmp_path):
    context = kit_context(tmp_path)

    def tag(**docker: str) -> str:
        return docker_target(tmp_path, context, **docker).image()

    tags = [tag()]
    assert tag() == tags[0]  # nothing changed: the built image is reused
    assert tag(image="other-name") == "other-name:" + tags[0].split(":")[1]
    tags.append(tag(base_image="python:3.12-slim-bookworm"))
    for name in [
        "Dockerfile",
        ".dockerignore",
        "requirements/serve.txt",
        "ml/config.py",
        "ml/serve/page.py",
        "build/wheelhouse/numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl",
    ]:
        with (context / name).open("ab") as file:
            file.write(b"\n")
        tags.append(tag())
    (context / "build/wheelhouse/six-1.17.0-py2.py3-none-any.whl").write_bytes(b"another")
    tags.append(tag())
    assert len(set(tags)) == len(tags), tags


def test_a_context_without_the_kit_fails_before_any_build(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")  # some other project's
    with pytest.raises(DockerError, match=r"has no \.dockerignore: it is not the kit's checkout"):
        docker_target(tmp_path, tmp_path).image()


# A stand-in for the docker client: it records each command line, remembers the tags it built
# and answers `image inspect` from them.
FAKE_DOCKER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_DOCKER_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
built = os.environ["FAKE_DOCKER_LOG"] + ".images"
images = open(built).read().split() if os.path.exists(built) else []
if sys.argv[1:3] == ["image", "inspect"]:
    sys.exit(0 if sys.argv[3] in images else 1)
if sys.argv[1] == "build":
    with open(built, "a") as file:
        file.write(sys.argv[sys.argv.index("-t") + 1] + "\\n")
"""


def test_a_new_base_image_is_built_and_reaches_the_dockerfile(tmp_path, monkeypatch):
    bin_dir, log = tmp_path / "bin", tmp_path / "docker.log"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER.format(python=sys.executable))
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(log))
    context = kit_context(tmp_path)

    def builds(base: str) -> list[list[str]]:
        """The `docker build` command lines of one build() with this base image."""
        before = len(log.read_text().splitlines()) if log.exists() else 0
        image = docker_target(tmp_path, context, base_image=base).build()
        calls = [json.loads(line) for line in log.read_text().splitlines()[before:]]
        assert calls[0] == ["image", "inspect", image]
        return [call for call in calls if call[0] == "build"]

    (first,) = builds("python:3.11-slim-bookworm")
    assert builds("python:3.11-slim-bookworm") == []  # built already
    (second,) = builds("runwright-base:bookworm")  # e.g. a base imported with `docker import`
    for build, base in [(first, "python:3.11-slim-bookworm"), (second, "runwright-base:bookworm")]:
        build_args = [build[i + 1] for i, word in enumerate(build) if word == "--build-arg"]
        assert build_args == [f"BASE_IMAGE={base}"]
        assert build[-1] == str(context.resolve())
    assert first[first.index("-t") + 1] != second[second.index("-t") + 1]

    # Only an ARG declared before the first FROM can be used in FROM, and both stages start
    # from the base: the build arg is what each stage is built on.
    steps = instructions(DOCKERFILE.read_text())
    first_from = [keyword for keyword, _ in steps].index("FROM")
    declared = {args.split("=")[0] for keyword, args in steps[:first_from] if keyword == "ARG"}
    assert "BASE_IMAGE" in declared
    stages = [args.split()[0] for keyword, args in steps if keyword == "FROM"]
    assert stages == ["${BASE_IMAGE}", "${BASE_IMAGE}"]


def test_docker_target_without_a_daemon_fails_clearly(tmp_path):
    reason = docker_daemon()
    if reason is None:
        pytest.skip("a Docker daemon answers here; the build test below covers the target")
    params = parse_params({"serve": {"model_name": "digits"}})
    target = DockerTarget(tmp_path, params, context=REPO_ROOT)
    model = RegisteredModel("digits", "1", "0" * 64, tmp_path / "model.onnx", "file:///m")
    with pytest.raises(DockerError, match=r"docker is not installed|`docker info` failed"):
        target.deploy(model, timeout=5)


def base_image() -> list[str]:
    """The `docker build` flags for the base image the daemon has: scripts/docker-test-daemon.sh
    imports one made with debootstrap, as nothing can be pulled there."""
    base = os.environ.get("RUNWRIGHT_TEST_BASE_IMAGE")
    return ["--build-arg", f"BASE_IMAGE={base}"] if base else []


def skip_without_docker() -> None:
    reason = docker_daemon()
    if reason:
        pytest.skip(f"{reason} (scripts/docker-test-daemon.sh starts one)")
    if not any((REPO_ROOT / "build/wheelhouse").glob("*.whl")):
        pytest.skip("build/wheelhouse is empty: run `make wheelhouse` first")


@pytest.mark.e2e
def test_image_builds_and_serves(digits_onnx, prepared_digits, tmp_path):
    skip_without_docker()
    tag = "runwright-serve:test"
    subprocess.run(
        ["docker", "build", *base_image(), "-t", tag, str(REPO_ROOT)], check=True, timeout=900
    )
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
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        assert httpx.get(f"{url}/v2/health/live").json() == {"live": True}
        metadata = httpx.get(f"{url}/v2/models/digits").json()
        assert metadata["inputs"][0]["shape"] == [-1, 8, 8, 1]
        assert metadata["versions"] == [sha12(digits_onnx)]
        # The container's predictions are onnxruntime's on the host, to float precision.
        rows = load_split(prepared_digits, "test")[0][:5]
        request = {
            "inputs": [
                {
                    "name": "image",
                    "shape": list(rows.shape),
                    "datatype": "FP32",
                    "data": rows.tolist(),
                }
            ]
        }
        response = httpx.post(f"{url}/v2/models/digits/infer", json=request, timeout=30)
        assert response.status_code == 200, response.text
        probabilities, labels = response.json()["outputs"]
        session = ort.InferenceSession(str(digits_onnx), providers=["CPUExecutionProvider"])
        expected = session.run(None, {"image": rows})[0]
        served = np.asarray(probabilities["data"], dtype=np.float32).reshape(expected.shape)
        np.testing.assert_allclose(served, expected, atol=1e-5)
        assert labels["data"] == [str(label) for label in expected.argmax(1)]
        health = ""
        for _ in range(60):  # the image's HEALTHCHECK runs 10 s after the start, then every 10 s
            health = docker_output("inspect", "--format", "{{.State.Health.Status}}", container)
            if health != "starting":
                break
            time.sleep(0.5)
        assert health == "healthy"
        listing = docker_output(
            "run",
            "--rm",
            "--entrypoint",
            "python3",
            tag,
            "-c",
            "import importlib.util as u; print([m for m in ('tensorflow', 'keras', 'pandas', "
            "'mlflow', 'onnx') if u.find_spec(m)])",
        )
        assert listing == "[]"  # onnxruntime only: no training stack in the image
    finally:
        subprocess.run(["docker", "rm", "--force", container], capture_output=True)


def docker_output(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout.strip()


@pytest.fixture(scope="module")
def docker_deployment(prepared_digits, tmp_path_factory):
    """The digits model deployed with `ml deploy --target docker`, built from this checkout (the
    docker target builds from the working directory), state and registry in a temporary
    directory; `--stop` at the end."""
    skip_without_docker()
    root = tmp_path_factory.mktemp("docker-deployment")
    port = free_port()
    params_path = deploy_params(root / "params.yaml", free_port())
    params = yaml.safe_load(params_path.read_text())
    params["deploy"]["target"] = "docker"
    params["deploy"]["docker"] = {"image": "runwright-serve-test", "port": port}
    if base := os.environ.get("RUNWRIGHT_TEST_BASE_IMAGE"):
        params["deploy"]["docker"]["base_image"] = base
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    deployed = Deployment(
        root=REPO_ROOT,
        params=params_path,
        state=root / ".deploy",
        env=tool_env(root) | {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"},
        url=f"http://127.0.0.1:{port}",
        good=linear_model(prepared_digits, root / "good.onnx"),
        bad=linear_model(prepared_digits, root / "bad.onnx", weight_scale=0.0),
    )
    first = deployed.deploy(deployed.good, check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    yield deployed
    deployed.deploy(deployed.good, "--stop", check=False)
    subprocess.run(["docker", "rm", "--force", "runwright-digits"], capture_output=True)


def served_version(deployment: Deployment) -> str:
    return httpx.get(f"{deployment.url}/v2/models/digits").json()["versions"][0]


@pytest.mark.e2e
def test_ml_deploy_to_docker_promotes_then_rolls_back_a_failing_version(docker_deployment):
    deployed = docker_deployment
    record = json.loads((deployed.state / "deployment.json").read_text())
    assert record["status"] == "promoted" and record["champion"] == "1"
    assert served_version(deployed) == sha12(deployed.good)
    image = docker_output("inspect", "--format", "{{.Config.Image}}", "runwright-digits")
    assert image.startswith("runwright-serve-test:")
    assert docker_output("inspect", "--format", "{{.State.Running}}", "runwright-digits") == "true"

    result = deployed.deploy(deployed.bad, check=False)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "was not promoted (rolled back); champion: version 1" in result.stderr
    assert "below deploy.smoke.min_accuracy 0.5" in result.stderr
    record = json.loads((deployed.state / "deployment.json").read_text())
    assert record["status"] == "rolled back"
    assert [(step["name"], step["ok"]) for step in record["steps"]] == [
        ("register", True),
        ("deploy", True),
        ("smoke test", False),
        ("roll back", True),
        ("smoke test", True),
    ]
    assert served_version(deployed) == sha12(deployed.good)
    # The same container serves throughout: a new model is a file in its mounted directory.
    after = docker_output("inspect", "--format", "{{.Config.Image}}", "runwright-digits")
    assert after == image


@pytest.mark.e2e
def test_the_container_restarts_without_the_checkouts_params(docker_deployment):
    """A job's next checkout removes the params.yaml `ml deploy` ran with; the container serves
    from the state folder's copy of its `serve` section, so a restart still comes up."""
    deployed = docker_deployment
    mounts = docker_output("inspect", "--format", "{{json .Mounts}}", "runwright-digits")
    sources = {mount["Source"] for mount in json.loads(mounts)}
    assert str(deployed.params.resolve()) not in sources
    assert str((deployed.state / "docker" / "config").resolve()) in sources
    moved = deployed.params.with_name("params.moved.yaml")
    deployed.params.rename(moved)
    try:
        docker_output("restart", "runwright-digits")
        version = ""
        for _ in range(120):
            try:
                version = served_version(deployed)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert version == sha12(deployed.good)
    finally:
        moved.rename(deployed.params)


@pytest.mark.e2e
def test_ml_deploy_stop_removes_the_container(docker_deployment):
    deployed = docker_deployment
    deployed.deploy(deployed.good, "--stop")
    listed = docker_output("ps", "--all", "--quiet", "--filter", "name=^runwright-digits$")
    assert listed == ""
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{deployed.url}/v2/health/ready", timeout=2)
