"""The streaming input pipeline of an image folder for training: file names are shuffled, the
files decoded and resized in parallel workers a batch ahead of the model, never all at once, so
a data set larger than memory trains. Decoding is ml.data.images.decode, the Pillow rule evaluate,
export and the service apply too: the model never sees pixels prepared another way."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ml.config import Augment, GpuParams
from ml.data.images import ImageFiles, decode_all


def make_dataset(
    x: ImageFiles,
    y: np.ndarray,
    batch_size: int,
    settings: GpuParams,
    shuffle_seed: int | None = None,
    augment: Augment | None = None,
):
    """Batches of (images, labels); reshuffled every epoch when `shuffle_seed` is given, and
    augmented (training only) as `augment` says. `settings.cache_dataset` does not apply: a
    cache would hold every decoded image in memory."""
    import tensorflow as tf

    preprocessing = x.preprocessing

    def load(paths: np.ndarray) -> np.ndarray:
        return decode_all([Path(path.decode()) for path in paths], preprocessing)

    def decoded(paths, labels):
        images = tf.numpy_function(load, [paths], tf.float32, stateful=False)
        images.set_shape((None, *preprocessing.input_shape))
        return images, labels

    dataset = tf.data.Dataset.from_tensor_slices(([str(path) for path in x.files], y))
    if shuffle_seed is not None:  # only the names: the shuffle buffer holds no pixels
        dataset = dataset.shuffle(len(x), seed=shuffle_seed, reshuffle_each_iteration=True)
    # A batch of names per call into Python, decoded in parallel workers (Pillow releases the
    # GIL while it decodes and resizes): one call per image costs more than the decoding.
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(decoded, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment is not None and augment.active:
        layers = augmentation_layers(augment, shuffle_seed or 0)
        dataset = dataset.map(
            lambda images, labels: (layers(images, training=True), labels),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if settings.prefetch:
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset


def augmentation_layers(augment: Augment, seed: int):
    import keras

    steps = []
    if augment.flip:
        steps.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if augment.shift:
        steps.append(
            keras.layers.RandomTranslation(
                augment.shift, augment.shift, fill_mode="constant", seed=seed
            )
        )
    return keras.Sequential(steps)
