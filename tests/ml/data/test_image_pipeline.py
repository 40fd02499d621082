"""The streaming pipeline of an image folder: the pixels decode exactly as evaluate decodes
them, each image keeps its own label through the shuffle, the order is seeded, and augmentation
changes the pixels only when asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ml.config import Augment, GpuParams
from ml.data.image_pipeline import make_dataset
from ml.data.images import ImageFiles, Preprocessing


def grey_levels(tmp_path: Path, count: int = 23) -> tuple[ImageFiles, np.ndarray]:
    """Images of one flat grey level each; the label is the level, so a mix-up shows."""
    paths = []
    for level in range(count):
        path = tmp_path / f"{level:02d}.{'png' if level % 2 else 'jpg'}"
        Image.new("L", (9 + level, 7), level * 10).save(path)
        paths.append(path)
    files = ImageFiles(tuple(paths), Preprocessing((6, 5), "grayscale"))
    return files, np.arange(count, dtype=np.int64)


def collect(dataset) -> tuple[np.ndarray, np.ndarray]:
    images, labels = zip(*((x.numpy(), y.numpy()) for x, y in dataset), strict=True)
    return np.concatenate(images), np.concatenate(labels)


def test_streamed_batches_hold_the_decoded_files_with_their_labels(tmp_path: Path) -> None:
    files, labels = grey_levels(tmp_path)
    images, streamed_labels = collect(make_dataset(files, labels, 4, GpuParams()))
    assert images.shape == (23, 6, 5, 1)
    np.testing.assert_array_equal(streamed_labels, labels)
    np.testing.assert_array_equal(images, files[:])  # the same rule as evaluate's decoding
    shuffled, shuffled_labels = collect(make_dataset(files, labels, 4, GpuParams(), 3))
    assert not np.array_equal(shuffled_labels, labels)
    # Every image still carries its own label: a flat image of level L is labelled L.
    np.testing.assert_array_equal(shuffled_labels, np.argsort(np.argsort(shuffled[:, 0, 0, 0])))
    np.testing.assert_array_equal(np.sort(shuffled_labels), labels)
    _, again = collect(make_dataset(files, labels, 4, GpuParams(), 3))
    np.testing.assert_array_equal(again, shuffled_labels)  # seeded


def test_augmentation_changes_training_pixels_only_when_set(tmp_path: Path) -> None:
    paths = []
    for index in range(8):
        image = Image.new("RGB", (16, 16), (0, 0, 0))
        image.paste((255, 255, 255), (0, 0, 6, 16))  # a white band on the left
        path = tmp_path / f"{index}.png"
        image.save(path)
        paths.append(path)
    files = ImageFiles(tuple(paths), Preprocessing((16, 16), "rgb"))
    labels = np.zeros(8, dtype=np.int64)
    plain, _ = collect(make_dataset(files, labels, 8, GpuParams(), 1, Augment()))
    np.testing.assert_array_equal(plain, files[:])
    flipped, _ = collect(make_dataset(files, labels, 8, GpuParams(), 1, Augment(flip=True)))
    mirrored = [
        not np.array_equal(image, original) for image, original in zip(flipped, plain, strict=True)
    ]
    assert any(mirrored)
    for image, changed in zip(flipped, mirrored, strict=True):
        if changed:  # the band moved to the right
            np.testing.assert_allclose(image[:, -6:], 1.0, atol=1e-6)


def test_training_decodes_one_batch_at_a_time(tmp_path: Path, monkeypatch) -> None:
    """No step of `fit` holds more than a batch of decoded images: a folder larger than memory
    trains."""
    from ml import prepare as prepare_stage
    from ml.config import PrepareParams, TrainParams
    from ml.train import fit, load_prepared
    from tests.conftest import TINY_TRAIN
    from tests.image_folders import decoded_batches, write_image_folder

    root = write_image_folder(tmp_path / "shapes", per_class=12)
    prepared = tmp_path / "prepared"
    prepare_stage.prepare(
        PrepareParams.model_validate(
            {"source": {"images": str(root)}, "image": {"size": [12, 12]}}
        ),
        prepared,
    )
    data = load_prepared(prepared)
    decoded = decoded_batches(monkeypatch)
    settings = TrainParams.model_validate(TINY_TRAIN | {"epochs": 2, "batch_size": 8})
    fitted = fit(settings, data)
    assert len(fitted.history) == 2
    assert max(decoded) <= 8
    # Every epoch reads the training and the validation files once each, from the files.
    assert sum(decoded) == 2 * (len(data.x_train) + len(data.x_val))
