"""The summary statistics of images that an image model's drift is measured on: a fixed few
whatever the image size, named, and moving the way the images do."""

from __future__ import annotations

import numpy as np
import pytest

from ml import image_summary


def statistics(images: np.ndarray) -> dict[str, np.ndarray]:
    values = image_summary.summarize(images)
    return dict(zip(image_summary.names(images.shape[1:]), values.T, strict=True))


def test_one_name_per_statistic_and_as_many_for_any_size():
    rng = np.random.default_rng(0)
    for shape in [(12, 12, 3), (224, 224, 3), (300, 17, 3)]:
        images = rng.random((2, *shape), dtype=np.float32)
        assert image_summary.summarize(images).shape == (2, 37)
        assert len(image_summary.names(shape)) == 37
    gray = rng.random((2, 64, 64, 1), dtype=np.float32)
    names = image_summary.names((64, 64, 1))
    assert image_summary.summarize(gray).shape == (2, len(names)) == (2, 30)
    assert "red_mean" not in names and "saturation_mean" not in names
    assert len(image_summary.names((2, 1, 1))) == 14 + 2  # fewer thumbnail cells than 4 x 4


def test_statistics_follow_what_the_images_show():
    black = np.zeros((1, 8, 8, 3), dtype=np.float32)
    red = black.copy()
    red[..., 0] = 1.0
    stripes = black.copy()
    stripes[:, :, ::2] = 1.0  # white columns: an edge between every pair across
    top_lit = black.copy()
    top_lit[:, :4] = 1.0
    found = statistics(np.concatenate([black, red, stripes, top_lit]))
    np.testing.assert_allclose(found["brightness_mean"], [0, 1 / 3, 0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(found["brightness_hist_0"], [1, 0, 0.5, 0.5])
    np.testing.assert_allclose(found["red_mean"], [0, 1, 0.5, 0.5])
    np.testing.assert_allclose(found["saturation_mean"], [0, 1, 0, 0])
    # 56 pairs across and 56 down in an 8x8 image; stripes differ across only.
    np.testing.assert_allclose(found["edge_density"], [0, 0, 0.5, 8 / 112])
    np.testing.assert_allclose(found["thumbnail_0_0"], [0, 1 / 3, 0.5, 1])
    np.testing.assert_allclose(found["thumbnail_3_0"], [0, 1 / 3, 0.5, 0])


def test_a_batch_of_another_rank_is_refused():
    with pytest.raises(ValueError, match=r"batch of \(height, width, channels\) images"):
        image_summary.summarize(np.zeros((4, 8, 8)))
