"""The `docker` target: the serving image (Dockerfile at the repository root: onnxruntime and the
web stack, no TensorFlow) run as a container that Docker restarts when it crashes.

The image does not contain the model: <state-dir>/docker/models is mounted read-only, so a new
version is one file rename away and hot-reloads like the local target. The image tag is a hash
of everything the build reads (the build arguments, the base image among them, and every file
of IMAGE_INPUTS), so an unchanged kit is never rebuilt and any change to those is.

The build installs from a wheelhouse made on the host (`make wheelhouse`), because pip inside
`docker build` may not reach a package index; see the Dockerfile for building with one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ml.config import Params
from ml.deploy import service_params
from ml.deploy.registry import RegisteredModel
from ml.deploy.smoke import wait_for_version
from ml.errors import UserError

WHEELHOUSE = Path("build/wheelhouse")
# What `docker build` reads from the context: the Dockerfile, the .dockerignore that decides
# which files of the copied folders reach the build, and every COPY source of the Dockerfile
# (tests/ml/deploy/test_docker.py checks this list against it).
IMAGE_INPUTS: tuple[str, ...] = (
    "Dockerfile",
    ".dockerignore",
    "requirements/serve.txt",
    str(WHEELHOUSE),
    "ml/__init__.py",
    "ml/errors.py",
    "ml/dotted.py",
    "ml/datasets.py",
    "ml/config.py",
    "ml/model_reference.py",
    "ml/options.py",
    "ml/data/__init__.py",
    "ml/data/images.py",  # the decoding rule of images sent to the service
    "ml/serve",
)
CONTAINER_PORT = 8080


class DockerError(UserError):
    """Docker is missing, has no daemon, or a build or run failed."""


class DockerTarget:
    name = "docker"

    def __init__(self, state_dir: Path, params: Params, context: Path) -> None:
        self.dir = (state_dir / "docker").resolve()
        self.params = params
        # Mounted as a folder: a file bind mount keeps the replaced file's old inode.
        self.config = self.dir / "config"
        self.context = context.resolve()
        self.model_file = self.dir / "models" / "model.onnx"
        self.samples = self.dir / "samples"
        self.container = f"runwright-{params.serve.model_name}"
        self.url = f"http://127.0.0.1:{params.deploy.docker.port}"

    def docker(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                ["docker", *args], capture_output=True, text=True, timeout=timeout
            )
        except FileNotFoundError:
            raise DockerError("docker is not installed (no `docker` on PATH)") from None
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip()[-800:]
            raise DockerError(f"`docker {' '.join(args[:2])}` failed: {tail}")
        return result

    def build_args(self) -> dict[str, str]:
        """The Dockerfile's ARGs this build sets."""
        return {"BASE_IMAGE": self.params.deploy.docker.base_image}

    def image(self) -> str:
        """`<deploy.docker.image>:<hash of every input of the build>`."""
        digest = hashlib.sha256()
        for name, value in sorted(self.build_args().items()):
            digest.update(f"--build-arg {name}={value}\0".encode())
        for name in IMAGE_INPUTS:
            path = self.context / name
            if not path.exists() and name != str(WHEELHOUSE):  # build() explains that one
                raise DockerError(f"{self.context} has no {name}: it is not the kit's checkout")
            files = sorted(path.rglob("*")) if path.is_dir() else [path]
            for file in (f for f in files if f.is_file() and "__pycache__" not in f.parts):
                content = file.read_bytes()
                relative = file.relative_to(self.context).as_posix()
                digest.update(f"{relative}\0{len(content)}\0".encode() + content)
        return f"{self.params.deploy.docker.image}:{digest.hexdigest()[:12]}"

    def build(self) -> str:
        image = self.image()
        try:
            self.docker("image", "inspect", image)
            return image  # this exact kit is built already
        except DockerError:
            pass
        if not any((self.context / WHEELHOUSE).glob("*.whl")):
            raise DockerError(f"{WHEELHOUSE} has no wheels: run `make wheelhouse` first")
        build_args = [f"{name}={value}" for name, value in self.build_args().items()]
        flags = [word for arg in build_args for word in ("--build-arg", arg)]
        self.docker("build", *flags, "-t", image, str(self.context))
        return image

    def deploy(self, model: RegisteredModel, timeout: float) -> str:
        self.docker("info", timeout=30)  # a daemon, not only a client
        image = self.build()
        models = self.dir / "models"
        models.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model.file, models / ".model.onnx.tmp")
        os.replace(models / ".model.onnx.tmp", models / "model.onnx")
        params_changed = service_params.write(self.config / "params.yaml", self.params.serve)
        if params_changed or self.running_image() != image:
            self.stop()
            self.run(image, models)
        serve = self.params.serve
        wait_for_version(self.url, serve.model_name, model.short_sha, timeout, serve.workers)
        return self.url

    def run(self, image: str, models: Path) -> None:
        samples = self.samples
        samples.mkdir(parents=True, exist_ok=True)
        self.docker(
            "run",
            "--detach",
            "--name",
            self.container,
            "--restart",
            "unless-stopped",
            "--user",
            f"{os.getuid()}:{os.getgid()}",  # sample files stay the host user's
            "--publish",
            f"127.0.0.1:{self.params.deploy.docker.port}:{CONTAINER_PORT}",
            "--volume",
            f"{models}:/models:ro",
            "--volume",
            f"{samples}:/samples",
            "--volume",
            f"{self.config}:/config:ro",
            image,
            "--model",
            "/models/model.onnx",
            "--params",
            "/config/params.yaml",
            "--host",
            "0.0.0.0",
            "--port",
            str(CONTAINER_PORT),
            "--samples",
            "/samples",
        )

    def running_image(self) -> str | None:
        try:
            result = self.docker("inspect", "--format", "{{.Config.Image}}", self.container)
        except DockerError:
            return None
        return result.stdout.strip()

    def running(self) -> bool:
        try:
            state = self.docker("inspect", "--format", "{{.State.Running}}", self.container)
        except DockerError:
            return False
        return state.stdout.strip() == "true"

    def restart_service(self) -> None:
        self.docker("restart", self.container)

    def stop(self) -> None:
        if self.running_image() is not None:
            self.docker("rm", "--force", self.container)

    def describe(self) -> str:
        return f"container {self.container} at {self.url}"
