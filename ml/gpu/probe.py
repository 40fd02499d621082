"""What this machine has: NVIDIA GPUs and driver (from nvidia-smi), and what the installed
TensorFlow was built for and can see. Gathering only; ml.gpu.check judges the result."""

from __future__ import annotations

import csv
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib import metadata

SMI_QUERY = "index,name,driver_version,memory.total,memory.free"
# CUDA libraries installed from wheels by `tensorflow[and-cuda]` (requirements/gpu.txt).
CUDA_WHEELS = {"cudnn": "nvidia-cudnn-cu", "cuda_runtime": "nvidia-cuda-runtime-cu"}


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    driver_version: str
    memory_total_mib: int
    memory_free_mib: int


@dataclass(frozen=True)
class GpuProbe:
    """What probing this machine found: its NVIDIA GPUs and what TensorFlow can use."""

    smi_found: bool  # nvidia-smi is on PATH (a driver is installed)
    smi_error: str | None  # nvidia-smi ran but failed, e.g. the driver is not loaded
    gpus: list[Gpu]
    tensorflow_version: str | None
    build: dict  # tf.sysconfig.get_build_info(): is_cuda_build, cuda_version, cudnn_version
    tensorflow_gpus: list[str]  # the GPUs TensorFlow can use (after CUDA_VISIBLE_DEVICES)
    cuda_wheels: dict[str, str] = field(default_factory=dict)  # {"cudnn": "9.3.0.75", ...}


class SmiParseError(ValueError):
    """nvidia-smi printed something other than the CSV rows asked for."""


def parse_smi(text: str) -> list[Gpu]:
    """Rows of `nvidia-smi --query-gpu=<SMI_QUERY> --format=csv,noheader,nounits`."""
    gpus = []
    for row in csv.reader(line for line in text.splitlines() if line.strip()):
        cells = [cell.strip() for cell in row]
        if len(cells) != 5:
            raise SmiParseError(f"expected 5 comma-separated fields, got {row!r}")
        index, name, driver, total, free = cells
        try:
            gpus.append(Gpu(int(index), name, driver, int(float(total)), int(float(free))))
        except ValueError:
            raise SmiParseError(f"unexpected values in nvidia-smi row {row!r}") from None
    return gpus


def query_smi() -> tuple[bool, str | None, list[Gpu]]:
    """(nvidia-smi found, its error if it failed, the GPUs it lists)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False, None, []
    command = [smi, f"--query-gpu={SMI_QUERY}", "--format=csv,noheader,nounits"]
    try:
        # A hung driver can block nvidia-smi; 30 s is far above its usual ~0.1 s.
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return True, f"nvidia-smi did not answer: {exc}", []
    if result.returncode != 0:
        message = (result.stdout + result.stderr).strip().splitlines()
        return True, message[0] if message else f"exit status {result.returncode}", []
    try:
        return True, None, parse_smi(result.stdout)
    except SmiParseError as exc:
        return True, str(exc), []


def tensorflow_facts() -> tuple[str | None, dict, list[str]]:
    try:
        import tensorflow as tf
    except ImportError:
        return None, {}, []
    build = dict(tf.sysconfig.get_build_info())
    gpus = [device.name for device in tf.config.list_physical_devices("GPU")]
    return tf.__version__, build, gpus


def cuda_wheel_versions() -> dict[str, str]:
    found = {}
    for library, prefix in CUDA_WHEELS.items():
        for cuda_major in (11, 12, 13):
            try:
                found[library] = metadata.version(f"{prefix}{cuda_major}")
            except metadata.PackageNotFoundError:
                continue
    return found


def probe() -> GpuProbe:
    smi_found, smi_error, gpus = query_smi()
    version, build, tf_gpus = tensorflow_facts()
    wheels = cuda_wheel_versions() if build.get("is_cuda_build") else {}
    return GpuProbe(smi_found, smi_error, gpus, version, build, tf_gpus, wheels)
