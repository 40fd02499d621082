"""gpu-check: can this machine train on its GPUs? Checks the driver against the CUDA version the
installed TensorFlow was built with, the cuDNN wheel against the cuDNN it expects, what
TensorFlow can see, and free GPU memory; each problem comes with what to do about it.

A machine without GPUs passes (training runs on the CPU) unless --require-gpu is given, as on a
GPU runner, where silently training on the CPU would be the worst outcome.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from ml.errors import UserError
from ml.gpu.probe import GpuProbe, probe
from ml.io import write_json

log = logging.getLogger(__name__)

# Oldest Linux x86-64 driver that runs any toolkit of a CUDA major version (minor version
# compatibility). Source: NVIDIA, "CUDA Compatibility" guide, Minor Version Compatibility,
# Table 1, and the CUDA Toolkit Release Notes, Table 3:
# https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html
MIN_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580"}
GPU_LOCK_HINT = "install the CUDA build: make setup LOCK=requirements/gpu.txt"


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def required_driver(cuda_version: str | None) -> str | None:
    if not cuda_version:
        return None
    return MIN_DRIVER.get(version_tuple(cuda_version)[0])


def diagnose(found: GpuProbe, require_gpu: bool = False, min_free_mib: int = 1024) -> dict:
    """Judge a probe: the device training will use, and every problem with what to fix."""
    build = found.build
    cuda_build = bool(build.get("is_cuda_build"))
    needed = required_driver(build.get("cuda_version")) if cuda_build else None
    problems = setup_problems(found, cuda_build, needed)
    problems += cudnn_problems(found)
    problems += [
        f"GPU {gpu.index} ({gpu.name}) has only {gpu.memory_free_mib} MiB free of "
        f"{gpu.memory_total_mib} MiB (need {min_free_mib}): another process holds it, see "
        "nvidia-smi"
        for gpu in found.gpus
        if gpu.memory_free_mib < min_free_mib
    ]
    if require_gpu and not found.tensorflow_gpus and not problems:
        problems.append(no_gpu_reason(found, cuda_build))
    return {
        "ok": not problems,
        "device": "gpu" if found.tensorflow_gpus else "cpu",
        "problems": problems,
        "tensorflow": {
            "version": found.tensorflow_version,
            "cuda_build": cuda_build,
            "cuda_version": build.get("cuda_version"),
            "cudnn_version": build.get("cudnn_version"),
            "gpus": found.tensorflow_gpus,
        },
        "driver_version": found.gpus[0].driver_version if found.gpus else None,
        "required_driver": needed,
        "cuda_wheels": found.cuda_wheels,
        "gpus": [gpu.__dict__ for gpu in found.gpus],
    }


def setup_problems(found: GpuProbe, cuda_build: bool, needed: str | None) -> list[str]:
    """Driver and TensorFlow installation problems, in the order they should be fixed."""
    problems = []
    if found.tensorflow_version is None:
        problems.append("TensorFlow is not installed: run make setup")
    if found.smi_error:
        problems.append(
            f"nvidia-smi failed ({found.smi_error}): the NVIDIA driver is not loaded; after a "
            "driver upgrade reboot, otherwise reinstall the driver (runners/README.md)"
        )
    if found.gpus and found.tensorflow_version and not cuda_build:
        problems.append(
            f"{len(found.gpus)} NVIDIA GPU(s) found, but TensorFlow {found.tensorflow_version} "
            f"is a CPU-only build: {GPU_LOCK_HINT}"
        )
    old_drivers = [
        f"GPU {gpu.index} ({gpu.name}): driver {gpu.driver_version} is older than {needed}, "
        f"the minimum for CUDA {found.build.get('cuda_version')} that TensorFlow was built "
        "with: upgrade the NVIDIA driver"
        for gpu in found.gpus
        if needed and version_tuple(gpu.driver_version) < version_tuple(needed)
    ]
    problems += old_drivers
    if cuda_build and found.gpus and not old_drivers and not found.tensorflow_gpus:
        problems.append(
            f"nvidia-smi lists {len(found.gpus)} GPU(s) but TensorFlow sees none: the CUDA "
            "libraries did not load or CUDA_VISIBLE_DEVICES hides them; run with "
            f"TF_CPP_MIN_LOG_LEVEL=0 to see why, or {GPU_LOCK_HINT}"
        )
    return problems


def cudnn_problems(found: GpuProbe) -> list[str]:
    wanted = found.build.get("cudnn_version")
    installed = found.cuda_wheels.get("cudnn")
    if not (found.build.get("is_cuda_build") and wanted and installed):
        return []  # no wheel: cuDNN comes from the system, and TensorFlow reports a mismatch
    if version_tuple(installed)[:1] != version_tuple(str(wanted))[:1]:
        return [
            f"cuDNN {installed} is installed but TensorFlow was built with cuDNN {wanted}: "
            f"{GPU_LOCK_HINT}"
        ]
    return []


def no_gpu_reason(found: GpuProbe, cuda_build: bool) -> str:
    if not found.smi_found:
        where = (
            "nvidia-smi is not on PATH, so no NVIDIA driver is installed (in a container: "
            "start it with GPU access, e.g. docker run --gpus all, or request nvidia.com/gpu "
            "on Kubernetes)"
        )
    else:
        where = "nvidia-smi lists no GPU"
    fix = "" if cuda_build else f"; TensorFlow is also the CPU-only build: {GPU_LOCK_HINT}"
    return (
        f"a GPU is required but none is usable: {where}{fix}. Run the job on a GPU runner "
        "(labels self-hosted, linux, x64, gpu) or drop --require-gpu to train on the CPU"
    )


def render(report: dict) -> list[str]:
    """The report as aligned lines for a terminal or a CI log."""
    tf_info = report["tensorflow"]
    build = (
        f"CUDA {tf_info['cuda_version']}, cuDNN {tf_info['cudnn_version']}"
        if tf_info["cuda_build"]
        else "CPU-only build"
    )
    driver = report["driver_version"] or "none found"
    if report["required_driver"]:
        driver += f" (needs >= {report['required_driver']})"
    lines = [
        f"TensorFlow     {tf_info['version'] or 'not installed'}, {build}",
        f"NVIDIA driver  {driver}",
    ]
    lines += [
        f"GPU {gpu['index']:<10} {gpu['name']}, {gpu['memory_free_mib']} of "
        f"{gpu['memory_total_mib']} MiB free"
        for gpu in report["gpus"]
    ]
    lines.append(f"Visible to TF  {len(tf_info['gpus'])} GPU(s)")
    if report["device"] == "cpu" and report["ok"]:
        lines.append("Result         no GPU: CPU only, training runs on the CPU")
    elif report["ok"]:
        lines.append(f"Result         ready: training runs on {len(tf_info['gpus'])} GPU(s)")
    else:
        lines.append("Result         FAILED")
        lines += [f"  - {problem}" for problem in report["problems"]]
    return lines


def main(
    require_gpu: Annotated[
        bool, typer.Option("--require-gpu", help="Fail unless TensorFlow can use a GPU.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    min_free_mib: Annotated[
        int, typer.Option(min=0, help="Least free memory (MiB) each GPU must have.")
    ] = 1024,
    out: Annotated[
        Path | None, typer.Option(help="Also write the JSON report to this file.")
    ] = None,
) -> None:
    """Check GPUs, driver, CUDA/cuDNN and free memory against the installed TensorFlow."""
    report = diagnose(probe(), require_gpu=require_gpu, min_free_mib=min_free_mib)
    if out:
        write_json(out, report)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        for line in render(report):
            typer.echo(line)
    if not report["ok"]:
        raise UserError(f"GPU check failed: {len(report['problems'])} problem(s), listed above")
