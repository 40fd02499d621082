"""Drift of sampled inputs against the training reference: PSI per column, a verdict only with
enough rows, and only rows of the version being checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml.config import MonitorParams
from ml.io import load_split
from ml.monitor.drift import compare, load_samples, markdown
from ml.reference import reference_statistics
from ml.serve.sampling import InputSampler

SETTINGS = MonitorParams(min_samples=100, psi_threshold=0.2, drift_share=0.1)


@pytest.fixture(scope="module")
def digits(prepared_digits):
    x_train, _ = load_split(prepared_digits, "train")
    x_test, _ = load_split(prepared_digits, "test")
    names = [f"pixel_{i // 8}_{i % 8}" for i in range(64)]
    return reference_statistics(x_train, names), x_test.reshape(len(x_test), -1)


def test_held_out_rows_do_not_drift(digits):
    stats, test_rows = digits
    result = compare(stats, test_rows, SETTINGS)
    assert result.enough and not result.drifted
    assert result.rows == len(test_rows)
    assert result.columns[0]["psi"] < 0.2  # sorted: the highest PSI first


def test_inverted_digits_drift(digits):
    stats, test_rows = digits
    result = compare(stats, 1.0 - test_rows, SETTINGS)
    assert result.drifted
    assert len(result.drifted_columns) > 32
    text = markdown(result, SETTINGS, "digits", "abc")
    assert "**drift**" in text and "| pixel_" in text


def test_too_few_rows_give_no_verdict(digits):
    stats, test_rows = digits
    result = compare(stats, 1.0 - test_rows[:10], SETTINGS)
    assert not result.enough and not result.drifted
    assert "fewer than monitor.min_samples (100)" in markdown(result, SETTINGS, "digits", "abc")


def test_columns_must_match_the_reference(digits):
    stats, test_rows = digits
    with pytest.raises(ValueError, match="samples have 10 columns, the reference 64"):
        compare(stats, test_rows[:, :10], SETTINGS)


def test_samples_of_the_version_newest_first_window(tmp_path):
    sampler = InputSampler(tmp_path, every=1, max_bytes=1 << 20)
    rows = np.arange(12, dtype=np.float32).reshape(6, 2)
    sampler.record(rows[:3], rows[:3], "old")
    sampler.record(rows[3:], rows[3:], "new")
    sampler.close()
    with open(next(tmp_path.glob("inputs-*.jsonl")), "ab") as handle:
        handle.write(b'{"t": 1, "version": "new", "x": [')  # a line cut short by a crash
    loaded = load_samples(tmp_path, "new", window=2)
    np.testing.assert_array_equal(loaded, rows[4:])
    assert load_samples(tmp_path, "other", window=10).shape == (0, 0)
    assert json.loads(next(tmp_path.glob("inputs-*.jsonl")).read_text().splitlines()[0])["t"] > 0
