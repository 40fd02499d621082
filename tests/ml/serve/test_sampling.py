"""Sampled inputs for the drift monitor: every Nth row across requests, bounded files."""

from __future__ import annotations

import json

import numpy as np

from ml.serve.sampling import InputSampler


def lines(directory):
    return [
        json.loads(line)
        for path in sorted(directory.glob("inputs-*.jsonl*"))
        for line in path.read_text().splitlines()
    ]


def test_every_nth_row_across_batches(tmp_path):
    sampler = InputSampler(tmp_path, every=3, max_bytes=1 << 20)
    rows = np.arange(20, dtype=np.float32).reshape(10, 2)
    outputs = np.ones((10, 1), dtype=np.float32)
    sampler.record(rows[:4], outputs[:4], "v1")  # rows 0..3: picks 0 and 3
    sampler.record(rows[4:5], outputs[4:5], "v1")  # row 4: none
    sampler.record(rows[5:], outputs[5:], "v1")  # rows 5..9: picks 6 and 9
    sampler.close()
    sampled = lines(tmp_path)
    assert [line["x"] for line in sampled] == [rows[i].tolist() for i in (0, 3, 6, 9)]
    assert {line["version"] for line in sampled} == {"v1"}
    assert sampled[0]["y"] == [1.0]


def test_every_nth_row_over_many_batch_sizes(tmp_path):
    sampler = InputSampler(tmp_path, every=7, max_bytes=1 << 20)
    sizes = np.random.default_rng(0).integers(1, 20, size=60)
    rows = np.arange(int(sizes.sum()), dtype=np.float32).reshape(-1, 1)
    start = 0
    for size in sizes:
        batch = rows[start : start + size]
        sampler.record(batch, batch, "v1")
        start += size
    sampler.close()
    assert [line["x"][0] for line in lines(tmp_path)] == list(range(0, len(rows), 7))


def test_files_rotate_at_the_size_cap(tmp_path):
    sampler = InputSampler(tmp_path, every=1, max_bytes=400)
    for _ in range(30):
        sampler.record(np.zeros((1, 8), dtype=np.float32), np.zeros((1, 1)), "v1")
    sampler.close()
    files = sorted(path.name for path in tmp_path.iterdir())
    assert len(files) == 2 and files[1].endswith(".jsonl.1")
    assert all(path.stat().st_size <= 400 + 120 for path in tmp_path.iterdir())


def test_disabled_without_a_directory_or_rate(tmp_path):
    for sampler in (InputSampler(None, 1, 100), InputSampler(tmp_path, 0, 100)):
        sampler.record(np.zeros((3, 2)), np.zeros((3, 1)), "v1")
        assert not sampler.enabled
    assert list(tmp_path.iterdir()) == []
