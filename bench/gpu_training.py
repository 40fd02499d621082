"""GPU training benchmark: step time on the GPU against the CPU, the mixed-precision speed-up, and
GPU utilisation while training (goal: >= 80 %).

The model is the kit's own CNN (ml.models.build_model, fed by ml.devices.make_dataset) made
wider, filters [64, 128, 256] and 512 dense units, trained on the bundled digits upscaled from
8x8 to --size pixels, so that one step does enough work to keep a GPU busy. Each configuration
runs in its own process (the CPU one with no GPU visible); configurations alternate for
--rounds rounds and the report gives medians. While a GPU process trains, nvidia-smi samples
utilisation every 200 ms.

Without a GPU only the CPU step time is measured, and the report says so.

    .venv/bin/python bench/gpu_training.py            # writes bench/results/gpu_training.json
    .venv/bin/python bench/gpu_training.py --quick    # a smoke test, not a measurement
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench/results/gpu_training.json"
# name -> (device, mixed precision)
CONFIGS = {"cpu-fp32": ("cpu", False), "gpu-fp32": ("gpu", False), "gpu-mixed": ("gpu", True)}
SMI_SAMPLE = ["--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"]


def upscaled_digits(size: int):
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    scale = -(-size // 8)  # nearest-neighbour upscaling by an integer factor, then crop
    images = np.kron(digits.images, np.ones((scale, scale)))[:, :size, :size]
    return (images[..., None] / 16.0).astype("float32"), digits.target


def measure(config: str, size: int, batch: int, steps: int) -> dict:
    """Runs in the worker process: median seconds per training step of one configuration."""
    sys.path.insert(0, str(ROOT))
    from ml.config import GpuParams, TrainParams
    from ml.devices import make_dataset
    from ml.models import build_model

    _, mixed = CONFIGS[config]
    params = TrainParams(
        cnn={"filters": [64, 128, 256], "dense_units": 512},
        gpu=GpuParams(mixed_precision=mixed),
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
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # compile and warm up
    sampler = start_sampler() if config.startswith("gpu") else None
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)  # returns once all steps ran
    seconds = time.perf_counter() - started
    samples = stop_sampler(sampler)
    return {"step_ms": 1000 * seconds / steps, "utilisation": samples}


def start_sampler():
    return subprocess.Popen(
        ["nvidia-smi", "-i", "0", *SMI_SAMPLE, "-lms", "200"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


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


def run_worker(config: str, args) -> dict:
    device, _ = CONFIGS[config]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    env["CUDA_VISIBLE_DEVICES"] = "-1" if device == "cpu" else "0"
    steps = args.cpu_steps if device == "cpu" else args.steps
    command = [sys.executable, __file__, "--worker", config, "--size", str(args.size)]
    command += ["--batch", str(args.batch), "--steps", str(steps)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise SystemExit(f"{config} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def gpu_available() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    probe = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    return result.returncode == 0 and result.stdout.strip().splitlines()[-1] != "0"


def summarize(runs: dict[str, list[dict]]) -> dict:
    summary = {}
    for config, results in runs.items():
        samples = [s["gpu_percent"] for r in results for s in r["utilisation"]]
        summary[config] = {
            "step_ms_median": round(statistics.median(r["step_ms"] for r in results), 2),
            "step_ms_each": [round(r["step_ms"], 2) for r in results],
            "gpu_utilisation_mean": round(statistics.fmean(samples), 1) if samples else None,
            "gpu_utilisation_median": statistics.median(samples) if samples else None,
            "gpu_memory_mib_max": max(
                (s["memory_mib"] for r in results for s in r["utilisation"]), default=None
            ),
        }
    step = {name: values["step_ms_median"] for name, values in summary.items()}
    if "gpu-fp32" in step:
        summary["gpu_vs_cpu_speedup"] = round(step["cpu-fp32"] / step["gpu-fp32"], 2)
        summary["mixed_precision_speedup"] = round(step["gpu-fp32"] / step["gpu-mixed"], 2)
    return summary


def report(summary: dict, args, has_gpu: bool) -> None:
    print(f"Wider CNN on digits upscaled to {args.size}x{args.size}, batch {args.batch}")
    for config in CONFIGS:
        if config in summary:
            values = summary[config]
            utilisation = values["gpu_utilisation_mean"]
            shown = f", GPU utilisation mean {utilisation} %" if utilisation is not None else ""
            print(f"  {config:<9} {values['step_ms_median']:>9.2f} ms/step (median){shown}")
    if has_gpu:
        print(f"  GPU vs CPU step time: {summary['gpu_vs_cpu_speedup']}x faster")
        print(f"  mixed precision vs float32 on the GPU: {summary['mixed_precision_speedup']}x")
    else:
        print("  no GPU: GPU figures not measured (GPU step time, mixed-precision speed-up,")
        print("  utilisation); run this on a GPU runner with requirements/gpu.txt")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=64, help="Image side after upscaling.")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=100, help="Timed steps per GPU run.")
    parser.add_argument("--cpu-steps", type=int, default=10, help="Timed steps per CPU run.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds per config.")
    parser.add_argument("--quick", action="store_true", help="Smoke test, not a measurement.")
    parser.add_argument("--worker", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args.worker, args.size, args.batch, args.steps)))
        return
    if args.quick:
        args.size, args.steps, args.cpu_steps, args.rounds = 32, 5, 3, 1
    has_gpu = gpu_available()
    configs = [name for name, (device, _) in CONFIGS.items() if has_gpu or device == "cpu"]
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    for _ in range(args.rounds):
        for config in configs:
            runs[config].append(run_worker(config, args))
    summary = summarize(runs)
    report(summary, args, has_gpu)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    settings = {key: getattr(args, key) for key in ("size", "batch", "steps", "cpu_steps")}
    RESULTS.write_text(json.dumps({"gpu": has_gpu, "settings": settings, **summary}, indent=2))


if __name__ == "__main__":
    main()
