"""The serving image: its Dockerfile passes hadolint, its build context holds every file it
copies, those files are enough to serve, the docker target's tag changes with every input of
the build (checked against a stand-in `docker` that records its command lines), and, where a
Docker daemon answers, it builds and serves a model. Without a daemon the build test is skipped
with the reason, and the docker target fails with a clear message."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ml.config import parse_params
from ml.deploy.docker import IMAGE_INPUTS, DockerError, DockerTarget
from ml.deploy.registry import RegisteredModel
from tests.docker_context import (
    copy_into_image,
    copy_sources,
    instructions,
    missing_from_context,
    run_module_command,
)
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


DOCKERFILE = REPO_ROOT / "Dockerfile"


def image_files() -> list[str]:
    """The build-context sources of the Dockerfile's COPY lines."""
    return copy_sources(DOCKERFILE.read_text())


@pytest.mark.parametrize("builder", ["legacy", "buildkit"])
def test_the_build_context_holds_every_file_the_image_copies(builder):
    assert missing_from_context(REPO_ROOT, DOCKERFILE, builder) == []


def test_the_files_the_image_copies_are_enough_to_serve(digits_onnx, tmp_path):
    copy_into_image(REPO_ROOT, DOCKERFILE, tmp_path / "image")
    app = tmp_path / "image/app"  # the image's WORKDIR
    assert sorted(p.name for p in (app / "ml").iterdir()) == [
        "__init__.py",
        "config.py",
        "datasets.py",
        "dotted.py",
        "errors.py",
        "options.py",
        "serve",
    ]
    assert not list(app.rglob("__pycache__"))
    port = free_port()
    process = subprocess.Popen(
        [*run_module_command("ml.serve"), "--model", str(digits_onnx), "--port", str(port)],
        cwd=app,  # `ml` comes from this copy only, not from the repository
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
    return DockerTarget(tmp_path / "state", params, REPO_ROOT / "params.yaml", context=context)


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
