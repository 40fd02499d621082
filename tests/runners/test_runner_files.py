"""The runner fleet's files, checked by the tools that own each format: hadolint for the image,
shellcheck for the scripts, systemd for the unit; the Helm values for what a GPU scale set
needs. Each tool test skips when its tool is missing (.ci/run installs them). The GPU image
cannot be built here (its CUDA base cannot be pulled): its build context is checked to hold
every file it copies, and `ml gpu-check` to run from those files alone."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.docker_context import (
    copy_into_image,
    instructions,
    missing_from_context,
    run_module_command,
)
from tests.paths import REPO_ROOT

RUNNERS = REPO_ROOT / "runners"
GPU_DOCKERFILE = RUNNERS / "Dockerfile.gpu"
# Where the image keeps its copy of `ml`, and the working directory of the documented check.
KIT_IN_IMAGE = "/opt/runwright"
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=f"{VENV_BIN}:/usr/bin:/bin") or shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def test_gpu_image_passes_hadolint():
    dockerfile = RUNNERS / "Dockerfile.gpu"
    result = subprocess.run([tool("hadolint"), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = dockerfile.read_text()
    assert re.search(r"^FROM nvidia/cuda:[\w.-]+@sha256:[0-9a-f]{64}$", text, re.MULTILINE)
    assert "requirements/gpu.txt" in text and re.search(r"^USER 1001$", text, re.MULTILINE)


@pytest.mark.parametrize("builder", ["legacy", "buildkit"])
def test_the_build_context_holds_every_file_the_gpu_image_copies(builder):
    # Built from the repository root (runners/README.md), so the root .dockerignore applies.
    assert missing_from_context(REPO_ROOT, GPU_DOCKERFILE, builder) == []


def test_gpu_check_runs_from_the_files_the_gpu_image_copies(tmp_path):
    image = tmp_path / "image"
    copy_into_image(REPO_ROOT, GPU_DOCKERFILE, image)
    # TensorFlow stays out: importing it costs ~9 s and loads nothing of `ml`.
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "tensorflow.py").write_text("raise ImportError('not in this test')\n")
    report = tmp_path / "report.json"
    result = subprocess.run(
        [*run_module_command("ml"), "gpu-check", "--out", str(report)],
        cwd=image / KIT_IN_IMAGE.lstrip("/"),  # `docker run -w /opt/runwright IMAGE python -m ml`
        env=os.environ | {"PYTHONPATH": str(stubs)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "GPU check failed" in result.stderr  # no TensorFlow: a problem, reported
    assert (
        "TensorFlow is not installed: run make setup" in json.loads(report.read_text())["problems"]
    )


def test_the_gpu_image_keeps_its_copy_of_ml_off_the_jobs_python_path():
    # Jobs run the kit they install (in another repository: the kit's checkout at the
    # workflow's commit); the image's copy on PYTHONPATH would come before it on sys.path.
    steps = instructions(GPU_DOCKERFILE.read_text())
    environment = [args for keyword, args in steps if keyword == "ENV"]
    assert not [args for args in environment if "PYTHONPATH" in args]
    # The documented check runs where the copy is.
    for document in (GPU_DOCKERFILE, RUNNERS / "README.md"):
        checks = re.findall(r"docker run [^`]*?ml gpu-check", document.read_text())
        assert checks and all(f"-w {KIT_IN_IMAGE} " in check for check in checks), checks


def test_shell_scripts_pass_shellcheck():
    scripts = sorted(
        [*RUNNERS.glob("*.sh"), *(REPO_ROOT / "scripts").glob("*.sh"), REPO_ROOT / ".ci/run"]
    )
    assert RUNNERS / "register.sh" in scripts
    result = subprocess.run(
        [tool("shellcheck"), *map(str, scripts)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_systemd_unit_verifies_and_restarts_after_every_job(tmp_path):
    unit = (RUNNERS / "github-runner@.service").read_text()
    assert re.search(r"^Restart=always$", unit, re.MULTILINE)
    assert re.search(r"^ExecStart=/opt/runwright/runners/register.sh$", unit, re.MULTILINE)
    # systemd checks that ExecStart exists: point it at this checkout's script.
    local = unit.replace("/opt/runwright/runners/register.sh", str(RUNNERS / "register.sh"))
    (tmp_path / "github-runner@.service").write_text(local)
    result = subprocess.run(
        [tool("systemd-analyze"), "verify", str(tmp_path / "github-runner@gpu0.service")],
        capture_output=True,
        text=True,
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 0 and problems == [], problems


def test_arc_scale_set_values_describe_gpu_runners():
    values = yaml.safe_load((RUNNERS / "arc/values.yaml").read_text())
    assert values["githubConfigUrl"].startswith("https://github.com/")
    assert isinstance(values["githubConfigSecret"], str)  # a secret's name, never a token
    assert 0 == values["minRunners"] < values["maxRunners"]
    assert "containerMode" not in values
    spec = values["template"]["spec"]
    (runner,) = [c for c in spec["containers"] if c["name"] == "runner"]
    assert runner["command"] == ["/home/runner/run.sh"]
    assert runner["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert spec["securityContext"]["runAsNonRoot"] is True
    mounts = {mount["name"] for mount in runner["volumeMounts"]}
    assert mounts <= {volume["name"] for volume in spec["volumes"]}
