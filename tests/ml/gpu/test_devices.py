"""Training plans and the tf.data input pipeline, on whatever devices this machine has."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ml.config import GpuParams
from ml.gpu.devices import make_dataset, plan_training

LOCAL_GPUS = len(tf.config.list_physical_devices("GPU"))


def test_auto_uses_the_default_strategy_below_two_gpus():
    if LOCAL_GPUS > 1:
        pytest.skip("this machine has several GPUs: auto mirrors")
    plan = plan_training(GpuParams(), batch_size=32)
    assert plan.strategy_name == "default"
    assert (plan.replicas, plan.global_batch_size) == (1, 32)
    assert plan.describe()["used"] is (LOCAL_GPUS == 1)


def test_mirrored_runs_one_replica_per_gpu_or_one_on_the_cpu():
    plan = plan_training(GpuParams(distribute="mirrored", mixed_precision=True), batch_size=16)
    assert isinstance(plan.strategy, tf.distribute.MirroredStrategy)
    assert plan.replicas == max(1, LOCAL_GPUS)
    assert plan.global_batch_size == 16 * plan.replicas
    described = plan.describe()
    assert described["strategy"] == "mirrored" and described["mixed_precision"] is True
    assert described["count"] == LOCAL_GPUS == len(described["names"])


def test_batch_size_is_per_step_when_scaling_is_off():
    plan = plan_training(
        GpuParams(distribute="mirrored", scale_batch_size_with_replicas=False), batch_size=16
    )
    assert plan.global_batch_size == 16


def rows(dataset) -> list[int]:
    return [int(value) for _, y in dataset for value in y.numpy()]


def test_dataset_batches_reshuffles_every_epoch_and_keeps_every_row():
    x = np.arange(100, dtype=np.float32).reshape(100, 1)
    y = np.arange(100)
    dataset = make_dataset(x, y, 32, GpuParams(), shuffle_seed=7)
    first, second = rows(dataset), rows(dataset)  # two epochs
    assert sorted(first) == sorted(second) == list(range(100))
    assert first != second != list(range(100))
    # The same seed gives the same order: a rerun (or resumed run) sees the same batches.
    again = make_dataset(x, y, 32, GpuParams(), shuffle_seed=7)
    assert rows(again) == first
    assert [int(batch.shape[0]) for batch, _ in again] == [32, 32, 32, 4]


def test_dataset_without_a_seed_keeps_the_order_and_honours_the_flags():
    x = np.zeros((10, 2), dtype=np.float32)
    plain = make_dataset(x, np.arange(10), 4, GpuParams(cache_dataset=False, prefetch=False))
    assert rows(plain) == list(range(10))
    assert "Prefetch" not in type(plain).__name__
    assert "Prefetch" in type(make_dataset(x, np.arange(10), 4, GpuParams())).__name__
