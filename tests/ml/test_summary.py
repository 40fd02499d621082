"""The summary's device line, from the `gpu` record that `ml train` writes."""

from __future__ import annotations

from ml.summary import describe_device


def test_cpu_training():
    record = {"used": False, "count": 0, "names": [], "strategy": "default", "problems": []}
    assert describe_device(record) == "CPU"


def test_mirrored_mixed_precision_on_two_gpus():
    record = {
        "used": True,
        "count": 2,
        "names": ["NVIDIA L4", "NVIDIA L4"],
        "strategy": "mirrored",
        "mixed_precision": True,
        "problems": [],
    }
    assert describe_device(record) == (
        "2 GPU(s): NVIDIA L4, NVIDIA L4 (mixed_precision, mirrored strategy)"
    )


def test_problems_are_shown_and_old_metrics_still_render():
    record = {"used": False, "count": 0, "names": [], "problems": ["driver too old"]}
    assert describe_device(record) == "CPU; GPU problems: driver too old"
    assert describe_device(None) == "not recorded"
