"""Reference statistics and examples saved with a model, and the PSI the monitor computes."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from ml import reference


def test_bins_come_from_training_quantiles_and_shares_sum_to_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 2)).astype(np.float32)
    x[:, 1] = 0.0  # a constant column: one edge, everything in the upper bin
    stats = reference.reference_statistics(x, ["a", "b"])
    a, b = stats["columns"]
    assert stats["rows"] == 1000 and a["name"] == "a"
    assert len(a["edges"]) == 9 and len(a["shares"]) == 10
    assert sum(a["shares"]) == pytest.approx(1)
    assert a["shares"] == pytest.approx([0.1] * 10, abs=0.002)
    assert b["edges"] == [0.0] and b["shares"] == [0.0, 1.0]


def test_column_names_must_match_the_columns():
    with pytest.raises(ValueError, match="3 input columns but 2 column names"):
        reference.reference_statistics(np.zeros((4, 3)), ["a", "b"])


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    train = rng.normal(size=5000)
    edges = reference.reference_statistics(train.reshape(-1, 1), ["x"])["columns"][0]["edges"]
    expected = reference.bin_shares(train, edges)
    same = reference.bin_shares(rng.normal(size=2000), edges)
    shifted = reference.bin_shares(rng.normal(loc=1.0, size=2000), edges)
    assert reference.population_stability_index(expected, expected) == 0
    assert reference.population_stability_index(expected, same) < 0.05
    assert reference.population_stability_index(expected, shifted) > 0.5
    # An empty bin does not make it infinite.
    assert np.isfinite(reference.population_stability_index([1.0, 0.0], [0.0, 1.0]))


def test_examples_keep_float32_values_in_short_decimals():
    x = np.array([[5.1, 0.1], [1 / 3, 2.0]], dtype=np.float32)
    examples = reference.examples(x, np.array([1, 0]), ["no", "yes"])
    assert examples["targets"] == ["yes", "no"]
    assert examples["inputs"][0] == [5.1, 0.1]
    np.testing.assert_array_equal(np.asarray(examples["inputs"], dtype=np.float32), x)
    regression = reference.examples(x, np.array([151.5, 75.0]), None)
    assert regression["targets"] == [151.5, 75.0]


def test_an_image_reference_is_as_small_for_large_images_as_for_small_ones():
    import json

    rng = np.random.default_rng(3)
    sizes = {}
    for shape in [(16, 16, 3), (224, 224, 3)]:
        batches = (rng.random((25, *shape), dtype=np.float32) for _ in range(4))
        stats = reference.image_reference(batches, shape)
        assert stats["kind"] == reference.IMAGE_SUMMARY and stats["rows"] == 100
        assert stats["input_shape"] == list(shape)
        sizes[shape] = len(json.dumps(stats))
    # 37 statistics (not 150,528 pixels for 224 x 224 x 3): a few KiB either way.
    assert max(sizes.values()) < 16_384, sizes
    assert sizes[(224, 224, 3)] < 2 * sizes[(16, 16, 3)]


def test_sampled_rows_become_the_references_columns():
    shape = (6, 5, 3)
    images = np.random.default_rng(4).random((7, *shape), dtype=np.float32)
    stats = reference.image_reference([images], shape)
    rows = images.reshape(7, -1).astype(np.float64)
    columns = reference.columns_of(stats, rows)
    assert columns.shape == (7, len(stats["columns"]))
    np.testing.assert_allclose(columns, reference.image_summary.summarize(images), rtol=1e-6)
    tabular = reference.reference_statistics(rows, [f"x{i}" for i in range(90)])
    assert reference.columns_of(tabular, rows) is rows  # a per-column reference takes them as is
    with pytest.raises(ValueError, match=r"89 values per row, the reference's images 6 x 5 x 3"):
        reference.columns_of(stats, rows[:, :89])


def noise_images(count: int, side: int, channels: int = 3) -> np.ndarray:
    """Images that PNG cannot compress: the largest examples of their size."""
    levels = np.random.default_rng(side).integers(0, 256, size=(count, side, side, channels))
    return (levels / 255.0).astype(np.float32)


def decoded(examples: dict, size: int, color_mode: str = "rgb") -> np.ndarray:
    from ml.data.images import Preprocessing, decode

    rule = Preprocessing((size, size), color_mode)
    return np.stack([decode(base64.b64decode(text), rule) for text in examples["images"]])


def test_image_examples_are_lossless_pngs_with_their_targets():
    x = noise_images(40, 32)
    y = np.arange(40) % 3
    examples = reference.image_examples(x, y, ["a", "b", "c"])
    assert len(examples["images"]) == reference.EXAMPLES == 32  # 32 x ~4 KB fit in 1 MiB
    assert examples["targets"] == ["a", "b", "c"] * 10 + ["a", "b"]
    np.testing.assert_array_equal(decoded(examples, 32), x[:32])
    assert "inputs" not in examples  # no float pixels: a reader of rows finds none


@pytest.mark.parametrize("side", [160, 224])
def test_image_examples_keep_at_least_eight_up_to_224_square_rgb(side):
    examples = reference.image_examples(noise_images(32, side), np.zeros(32), ["a"])
    kept = len(examples["images"])
    total = sum(map(len, examples["images"]))
    assert kept >= reference.MIN_IMAGE_EXAMPLES
    assert total <= reference.MAX_EXAMPLE_BYTES
    # Past the minimum, only as many as fit in the budget: one more would not have.
    if kept > reference.MIN_IMAGE_EXAMPLES:
        assert total <= reference.EXAMPLE_BYTES < total + len(examples["images"][0])
    np.testing.assert_array_equal(decoded(examples, side), noise_images(32, side)[:kept])


def test_image_examples_are_none_rather_than_too_few_to_judge(caplog):
    # 8 incompressible 300x300 RGB images are ~2.9 MB of base64, over MAX_EXAMPLE_BYTES.
    examples = reference.image_examples(noise_images(8, 300), np.zeros(8), ["a"])
    assert examples == {"images": [], "targets": []}
    assert "too large to keep 8 as examples" in caplog.text
    # A test split of fewer than 8 images keeps them all.
    few = reference.image_examples(noise_images(3, 16), np.array([0, 1, 0]), ["a", "b"])
    assert len(few["images"]) == 3 and few["targets"] == ["a", "b", "a"]
