"""Where and how training runs: the distribution strategy, the global batch size, the dtype
policy and the tf.data input pipeline, all decided from `train.gpu` and the GPUs TensorFlow sees.

On a CPU-only machine every option still works: the default strategy (or MirroredStrategy over
the one CPU device), float16 compute emulated on the CPU, XLA compiled for the CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml.config import GpuParams

log = logging.getLogger(__name__)

MIXED_POLICY = "mixed_float16"


@dataclass(frozen=True)
class TrainingPlan:
    strategy: Any  # a tf.distribute.Strategy (TensorFlow ships no type information)
    strategy_name: str
    replicas: int
    gpus: tuple[str, ...]  # names of the GPUs training uses, e.g. "NVIDIA H100 80GB HBM3"
    global_batch_size: int
    compute_dtype: str  # the dtype policy of the hidden layers: "float32" or "mixed_float16"
    jit_compile: bool | str

    def describe(self) -> dict:
        """The plan as JSON-ready facts, for metrics/train.json, MLflow and the ONNX metadata."""
        return {
            "used": bool(self.gpus),
            "count": len(self.gpus),
            "names": list(self.gpus),
            "strategy": self.strategy_name,
            "replicas": self.replicas,
            "global_batch_size": self.global_batch_size,
            "mixed_precision": self.compute_dtype == MIXED_POLICY,
            "jit_compile": self.jit_compile,
        }


def plan_training(settings: GpuParams, batch_size: int) -> TrainingPlan:
    import tensorflow as tf

    gpus = tuple(
        tf.config.experimental.get_device_details(device).get("device_name", device.name)
        for device in tf.config.list_physical_devices("GPU")
    )
    mirrored = settings.distribute == "mirrored" or (
        settings.distribute == "auto" and len(gpus) > 1
    )
    strategy = tf.distribute.MirroredStrategy() if mirrored else tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    scale = replicas if settings.scale_batch_size_with_replicas else 1
    plan = TrainingPlan(
        strategy=strategy,
        strategy_name="mirrored" if mirrored else "default",
        replicas=replicas,
        gpus=gpus,
        global_batch_size=batch_size * scale,
        compute_dtype=MIXED_POLICY if settings.mixed_precision else "float32",
        jit_compile=settings.jit_compile,
    )
    log.info(
        "Training on %s: %s strategy, %d replica(s), global batch %d, %s compute, XLA %s",
        f"{len(gpus)} GPU(s)" if gpus else "the CPU",
        plan.strategy_name,
        replicas,
        plan.global_batch_size,
        plan.compute_dtype,
        plan.jit_compile,
    )
    return plan


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    settings: GpuParams,
    shuffle_seed: int | None = None,
):
    """Batches of (x, y); reshuffled every epoch when `shuffle_seed` is given.

    The order matters for speed: cache before the shuffle (so the cache holds the data once, not
    one order of it), batch after it, and prefetch last so the next batch is ready while the
    accelerator works on this one.
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if settings.cache_dataset:
        dataset = dataset.cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if settings.prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset


def device_report(plan: TrainingPlan) -> dict:
    """The plan plus the GPU check's findings: what metrics/train.json and the ONNX metadata
    record under `gpu`. Problems (a GPU that TensorFlow cannot use) are logged, not fatal:
    `ml gpu-check --require-gpu` is the gate that stops a GPU job from training on the CPU."""
    from ml.gpu.check import diagnose
    from ml.gpu.probe import probe

    check = diagnose(probe())
    for problem in check["problems"]:
        log.warning("GPU check: %s", problem)
    return plan.describe() | {
        "driver_version": check["driver_version"],
        "cuda_version": check["tensorflow"]["cuda_version"],
        "cudnn_version": check["tensorflow"]["cudnn_version"],
        "problems": check["problems"],
    }
