"""Reference statistics and examples saved with a model, and the PSI the monitor computes."""

from __future__ import annotations

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


def test_image_examples_are_bounded_and_never_too_few_to_judge():
    assert reference.image_example_count((8, 8, 1)) == reference.EXAMPLES
    assert reference.image_example_count((36, 36, 3)) == 32
    assert reference.image_example_count((73, 73, 3)) == 8
    assert reference.image_example_count((74, 74, 3)) == 0  # 7 would be too few
    assert reference.image_example_count((224, 224, 3)) == 0
