"""GPU training: step time on the GPU against the CPU, the mixed-precision speed-up, and GPU
utilisation while training.

The model is the kit's own CNN (ml.models.build_model, fed by ml.gpu.devices.make_dataset) made
wider, filters [64, 128, 256] and 512 dense units, trained on the bundled digits upscaled from
8x8 to --size pixels, so that one step does enough work to keep a GPU busy. Each configuration
trains in its own process, in a temporary clone of the repository:

  cpu-fp32   float32 with no GPU visible (CUDA_VISIBLE_DEVICES=-1)
  gpu-fp32   float32 on GPU 0
  gpu-mixed  mixed_float16 on GPU 0 (train.gpu.mixed_precision: true)

Configurations alternate (ABBA) for --repeats rounds; a process first trains 3 untimed steps
(graph building, XLA compilation), then --steps timed ones. While a GPU process trains,
`nvidia-smi --query-gpu=utilization.gpu,memory.used -lms 200` samples GPU 0.

Goal: mean GPU utilisation >= 80 % during gpu-fp32 training. Without a GPU only the CPU step time
is measured and the report says so: nothing about the GPU is estimated.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import _common as common

NAME = "gpu_training"
GOAL_UTILISATION = 80.0  # percent
# name -> (device, mixed precision)
CONFIGS = {"cpu-fp32": ("cpu", False), "gpu-fp32": ("gpu", False), "gpu-mixed": ("gpu", True)}
SMI_SAMPLE = ["--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]


def parse_args():
    parser = common.base_parser(__doc__, repeats=3)
    parser.add_argument("--size", type=int, default=64, help="Image side after upscaling.")
    parser.add_argument("--batch", type=int, default=256, help="Rows per step.")
    parser.add_argument("--steps", type=int, default=100, help="Timed steps per GPU run.")
    parser.add_argument("--cpu-steps", type=int, default=10, help="Timed steps per CPU run.")
    parser.add_argument("--worker", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.size, args.steps, args.cpu_steps, args.repeats = 32, 5, 3, 1
    return args


def upscaled_digits(size: int):
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    scale = -(-size // 8)  # nearest-neighbour upscaling by an integer factor, then crop
    images = np.kron(digits.images, np.ones((scale, scale)))[:, :size, :size]
    return (images[..., None] / 16.0).astype("float32"), digits.target


def measure(config: str, size: int, batch: int, steps: int) -> dict:
    """In the worker process: milliseconds per step, and the utilisation samples."""
    from ml.config import GpuParams, TrainParams
    from ml.gpu.devices import make_dataset
    from ml.models import build_model

    params = TrainParams(
        cnn={"filters": [64, 128, 256], "dense_units": 512},
        gpu=GpuParams(mixed_precision=CONFIGS[config][1]),
    )
    x, y = upscaled_digits(size)
    dataset = {
        "task": "classification",
        "input_kind": "image",
        "input_shape": [size, size, 1],
        "class_labels": [str(d) for d in range(10)],
    }
    model = build_model(params, dataset, x, y)
    data = make_dataset(x, y, batch, params.gpu, shuffle_seed=0).repeat()
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # build, compile, warm up
    sampler = start_sampler() if config.startswith("gpu") else None
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)  # returns once all steps ran
    seconds = time.perf_counter() - started
    return {"step_ms": 1000 * seconds / steps, "samples": stop_sampler(sampler)}


def start_sampler():
    command = ["nvidia-smi", "-i", "0", *SMI_SAMPLE, "-lms", "200"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def stop_sampler(sampler) -> list[dict]:
    if sampler is None:
        return []
    sampler.terminate()
    output, _ = sampler.communicate(timeout=10)
    samples = []
    for line in output.splitlines():
        utilisation, memory = (part.strip() for part in line.split(","))
        samples.append({"gpu_percent": float(utilisation), "memory_mib": float(memory)})
    return samples


def run_worker(config: str, clone: Path, args) -> dict:
    device = CONFIGS[config][0]
    env = common.tool_env(PYTHONPATH=str(clone))
    env["CUDA_VISIBLE_DEVICES"] = "-1" if device == "cpu" else "0"
    steps = args.cpu_steps if device == "cpu" else args.steps
    command = [common.PYTHON, str(clone / "bench/gpu_training.py"), "--worker", config]
    command += ["--size", str(args.size), "--batch", str(args.batch), "--steps", str(steps)]
    result = common.run(command, clone, env)
    figures: dict = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def gpu_available(env: dict) -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    probe = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    result = subprocess.run([common.PYTHON, "-c", probe], env=env, capture_output=True, text=True)
    return result.returncode == 0 and result.stdout.strip().splitlines()[-1] != "0"


def figures_of(results: list[dict]) -> dict:
    samples = [s["gpu_percent"] for r in results for s in r["samples"]]
    memory = [s["memory_mib"] for r in results for s in r["samples"]]
    utilisation = None
    if samples:
        utilisation = common.summary(samples) | {"mean": statistics.fmean(samples)}
    return {
        "step_ms": common.summary([r["step_ms"] for r in results]),
        "gpu_utilisation_percent": utilisation,
        "gpu_memory_mib_max": max(memory, default=None),
    }


def report(figures: dict, args, has_gpu: bool) -> dict:
    print(f"Wider CNN on digits upscaled to {args.size}x{args.size}, batch {args.batch}")
    rows = []
    for config, values in figures.items():
        utilisation = values["gpu_utilisation_percent"]
        shown = f"{utilisation['mean']:.1f}" if utilisation else "-"
        rows.append([config, f"{values['step_ms']['median']:.2f}", shown])
    common.print_table(["config", "ms/step (median)", "GPU util. % (mean)"], rows)
    if not has_gpu:
        print("no GPU: GPU figures not measured (GPU step time, mixed-precision speed-up and")
        print("utilisation); run this on a GPU runner with requirements/gpu.txt installed")
        return {}
    step = {config: values["step_ms"]["median"] for config, values in figures.items()}
    ratios = {
        "gpu_vs_cpu_speedup": step["cpu-fp32"] / step["gpu-fp32"],
        "mixed_precision_speedup": step["gpu-fp32"] / step["gpu-mixed"],
    }
    print(f"GPU vs CPU step time: {ratios['gpu_vs_cpu_speedup']:.2f}x faster")
    print(f"mixed precision vs float32 on the GPU: {ratios['mixed_precision_speedup']:.2f}x")
    utilisation = figures["gpu-fp32"]["gpu_utilisation_percent"]["mean"]
    ratios["result"] = common.print_goal(
        "mean GPU utilisation, gpu-fp32 (%)", utilisation, GOAL_UTILISATION, True
    )
    return ratios


def main() -> None:
    args = parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.size, args.batch, args.steps)))
        return
    env = common.tool_env()
    has_gpu = gpu_available(env)
    configs = [name for name, (device, _) in CONFIGS.items() if has_gpu or device == "cpu"]
    with common.workspace(NAME, args.keep) as root:
        clone = common.clone_repo(args.repo, root / "repo", env)
        cases = {config: functools.partial(run_worker, config, clone, args) for config in configs}
        results = common.interleave(cases, args.repeats)
    figures = {config: figures_of(results[config]) for config in configs}
    ratios = report(figures, args, has_gpu)
    settings = {key: getattr(args, key) for key in ("size", "batch", "steps", "cpu_steps")}
    common.write_results(
        NAME, {"gpu": has_gpu, "quick": args.quick, "settings": settings, **figures, **ratios}
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
