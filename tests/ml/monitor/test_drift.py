"""Drift of sampled inputs against the training reference: PSI per column, a verdict only with
enough rows, and only rows of the version being checked. For an image folder's model, PSI per
summary statistic of real decoded images, sampled by the service's sampler."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml.config import MonitorParams
from ml.data.images import ImageFiles, Preprocessing
from ml.io import load_split
from ml.monitor.drift import compare, load_samples, markdown
from ml.reference import image_reference, reference_statistics
from ml.serve.sampling import InputSampler
from tests.image_folders import write_image_folder

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


# --- an image folder's model: summaries of the images, not their pixels ------------------------

SHAPE = Preprocessing((24, 24), "rgb")


def image_files(root) -> ImageFiles:
    return ImageFiles(tuple(sorted(root.rglob("*.*"))), SHAPE)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """The reference of 300 decoded training images (as export makes it) and 300 other images
    drawn the same way, decoded as the service decodes what it serves."""
    root = tmp_path_factory.mktemp("shapes")
    training = image_files(write_image_folder(root / "train", per_class=100, seed=0))
    served = image_files(write_image_folder(root / "served", per_class=100, seed=1))
    stats = image_reference(training.batches(64), SHAPE.input_shape)
    return stats, served[:]


def sampled(tmp_path, stats, images: np.ndarray):
    """`images` served and sampled by the service's sampler, read back as the monitor does."""
    sampler = InputSampler(tmp_path, every=1, max_bytes=1 << 30)
    outputs = np.zeros((len(images), 3), dtype=np.float32)
    for start in range(0, len(images), 16):  # as requests of 16 images
        sampler.record(images[start : start + 16], outputs[start : start + 16], "v1")
    sampler.close()
    return load_samples(tmp_path, "v1", window=5000, stats=stats)


def test_images_like_the_training_ones_do_not_drift(shapes, tmp_path):
    stats, served = shapes
    rows = sampled(tmp_path, stats, served)
    assert rows.shape == (300, len(stats["columns"]))
    result = compare(stats, rows, SETTINGS)
    assert result.enough and not result.drifted, result.columns[:5]
    assert result.columns[0]["psi"] < SETTINGS.psi_threshold


@pytest.mark.parametrize(
    ("change", "moved"),
    [
        (lambda images: 1.0 - images, "brightness_mean"),  # inverted
        (lambda images: images * 0.4, "brightness_mean"),  # much darker
        (lambda images: 0.35 + 0.3 * images, "brightness_std"),  # washed out: less contrast
    ],
    ids=["inverted", "darker", "washed-out"],
)
def test_changed_images_drift(shapes, tmp_path, change, moved):
    stats, served = shapes
    result = compare(stats, sampled(tmp_path, stats, change(served)), SETTINGS)
    assert result.drifted
    assert moved in {column["name"] for column in result.drifted_columns}
    text = markdown(result, SETTINGS, "shapes", "v1")
    assert "**drift**" in text and "image statistics have PSI" in text


def test_sampled_images_of_another_size_are_named(shapes, tmp_path):
    stats, served = shapes
    grayscale = np.ascontiguousarray(served[:, :, :, :1])
    with pytest.raises(
        ValueError, match=r"576 values per row, the reference's images 24 x 24 x 3"
    ):
        sampled(tmp_path, stats, grayscale)
