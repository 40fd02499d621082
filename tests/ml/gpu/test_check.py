"""`ml gpu-check`: the verdict for each machine state (nvidia-smi parsing: test_probe.py).

The decision logic gets probe results as data (nvidia-smi text as the tool prints it, build info
as TensorFlow reports it), so every state is covered on any machine. The real probe runs too:
on a machine without an NVIDIA driver it must say CPU-only and pass, and fail under
--require-gpu; on a GPU machine the `gpu` test checks the opposite.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ml.gpu.check import diagnose, render, required_driver
from ml.gpu.probe import GpuProbe, parse_smi
from tests.helpers import run_ml

CUDA_BUILD = {"is_cuda_build": True, "cuda_version": "12.5.1", "cudnn_version": "9"}
CPU_BUILD = {"is_cuda_build": False, "is_rocm_build": False, "is_tensorrt_build": False}
# As `nvidia-smi --query-gpu=... --format=csv,noheader,nounits` prints two H100s.
TWO_GPUS = (
    "0, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 81004\n"
    "1, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 80990\n"
)
TF_GPUS = ["/physical_device:GPU:0", "/physical_device:GPU:1"]


def machine(
    smi: str | None = TWO_GPUS,
    build: dict = CUDA_BUILD,
    tf_gpus: list[str] = TF_GPUS,
    smi_error: str | None = None,
    cudnn: str = "9.3.0.75",
) -> GpuProbe:
    return GpuProbe(
        smi_found=smi is not None or smi_error is not None,
        smi_error=smi_error,
        gpus=parse_smi(smi or ""),
        tensorflow_version="2.21.0",
        build=build,
        tensorflow_gpus=tf_gpus,
        cuda_wheels={"cudnn": cudnn} if build.get("is_cuda_build") else {},
    )


def only_problem(report: dict) -> str:
    assert not report["ok"]
    assert len(report["problems"]) == 1, report["problems"]
    return report["problems"][0]


def test_required_driver_follows_the_cuda_major_version():
    assert required_driver("12.5.1") == "525.60.13"
    assert required_driver("11.8") == "450.80.02"
    assert required_driver("13.0") == "580"
    assert required_driver(None) is None


def test_healthy_gpu_machine_is_ready():
    report = diagnose(machine(), require_gpu=True)
    assert report["ok"] and report["problems"] == []
    assert report["device"] == "gpu"
    assert report["required_driver"] == "525.60.13"
    assert report["driver_version"] == "550.54.15"
    assert "ready: training runs on 2 GPU(s)" in render(report)[-1]


def test_cpu_only_machine_passes_and_says_so():
    report = diagnose(machine(smi=None, build=CPU_BUILD, tf_gpus=[]))
    assert report["ok"] and report["device"] == "cpu"
    assert render(report)[-1].endswith("no GPU: CPU only, training runs on the CPU")


def test_cpu_only_machine_fails_when_a_gpu_is_required():
    report = diagnose(machine(smi=None, build=CPU_BUILD, tf_gpus=[]), require_gpu=True)
    problem = only_problem(report)
    assert "nvidia-smi is not on PATH" in problem
    assert "requirements/gpu.txt" in problem  # the CPU-only TensorFlow needs replacing too
    assert "FAILED" in "\n".join(render(report))


def test_cpu_only_tensorflow_on_a_gpu_machine():
    problem = only_problem(diagnose(machine(build=CPU_BUILD, tf_gpus=[])))
    assert "2 NVIDIA GPU(s) found" in problem and "CPU-only build" in problem
    assert "make setup LOCK=requirements/gpu.txt" in problem


def test_driver_older_than_cuda_needs():
    old = TWO_GPUS.replace("550.54.15", "470.256.02")
    report = diagnose(machine(smi=old, tf_gpus=[]))
    assert len(report["problems"]) == 2  # one per GPU
    assert "driver 470.256.02 is older than 525.60.13" in report["problems"][0]
    assert "upgrade the NVIDIA driver" in report["problems"][0]


def test_cuda_13_build_needs_a_580_driver():
    build = CUDA_BUILD | {"cuda_version": "13.0"}
    assert not diagnose(machine(smi=TWO_GPUS.replace("550.54.15", "575.57.08"), build=build))["ok"]
    assert diagnose(machine(smi=TWO_GPUS.replace("550.54.15", "580.65.06"), build=build))["ok"]


def test_tensorflow_that_sees_no_gpu_is_reported():
    problem = only_problem(diagnose(machine(tf_gpus=[])))
    assert "nvidia-smi lists 2 GPU(s) but TensorFlow sees none" in problem
    assert "TF_CPP_MIN_LOG_LEVEL=0" in problem


def test_cudnn_wheel_of_another_major_version():
    problem = only_problem(diagnose(machine(cudnn="8.9.7.29")))
    assert "cuDNN 8.9.7.29 is installed but TensorFlow was built with cuDNN 9" in problem


def test_gpu_with_too_little_free_memory():
    busy = TWO_GPUS.replace("81004", "312")
    problem = only_problem(diagnose(machine(smi=busy), min_free_mib=2048))
    assert "GPU 0 (NVIDIA H100 80GB HBM3) has only 312 MiB free of 81559 MiB" in problem


def test_driver_that_is_not_loaded():
    failed = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    problem = only_problem(diagnose(machine(smi=None, smi_error=failed, tf_gpus=[])))
    assert "couldn't communicate with the NVIDIA driver" in problem
    assert "reboot" in problem


def run_gpu_check(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run_ml("gpu-check", *args, cwd=cwd)


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="an NVIDIA driver is here")
def test_real_check_on_this_cpu_machine(tmp_path):
    result = run_gpu_check("--json", "--out", "gpu.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] and report["device"] == "cpu" and report["gpus"] == []
    assert json.loads((tmp_path / "gpu.json").read_text()) == report

    required = run_gpu_check("--require-gpu", cwd=tmp_path)
    assert required.returncode == 1
    assert "FAILED" in required.stdout
    assert "a GPU is required but none is usable" in required.stdout
    assert "GPU check failed: 1 problem(s)" in required.stderr
    assert "Traceback" not in required.stderr


@pytest.mark.gpu
@pytest.mark.skipif(shutil.which("nvidia-smi") is None, reason="no NVIDIA driver on this machine")
def test_real_check_on_a_gpu_machine(tmp_path):
    result = run_gpu_check("--require-gpu", "--json", cwd=tmp_path)
    report = json.loads(result.stdout)
    assert result.returncode == 0, report["problems"]
    assert report["device"] == "gpu" and report["gpus"]
