"""A few numbers per image that describe how it looks: the columns of an image model's drift
reference. Export computes them from decoded training images, the monitor from the decoded images
the service sampled, both with `summarize`, so the two compare like with like.

Why not the pixels: one PSI per pixel grows with the image (a 224x224 RGB model has 150,528
inputs: megabytes of reference in the model file, and a monitor pass that bins every pixel of
every sampled image), and a single pixel's distribution says little about whether the images
changed. These numbers are the same few dozen whatever the size, and they move when the images
do: brightness and contrast (a darker camera, an inverted scan), the colour balance, how busy
the images are (edges), and where the light falls (a coarse thumbnail).

Plain numpy: the monitor uses it without the training stack.
"""

from __future__ import annotations

import itertools

import numpy as np

HISTOGRAM_BINS = 8  # equal brightness bins over 0..1
THUMBNAIL = 4  # a THUMBNAIL x THUMBNAIL grid of mean brightness (fewer cells for tiny images)
EDGE_STEP = 0.1  # a brightness step between neighbours above this (of 0..1) counts as an edge
PERCENTILES = (10, 50, 90)
CHANNEL_NAMES = {3: ("red", "green", "blue")}  # grayscale has brightness only


def names(input_shape: tuple[int, ...] | list[int]) -> list[str]:
    """The column names of `summarize` for images of `input_shape` (height, width, channels)."""
    height, width, channels = input_shape
    columns = ["brightness_mean", "brightness_std"]
    columns += [f"brightness_p{p}" for p in PERCENTILES]
    columns += [f"brightness_hist_{b}" for b in range(HISTOGRAM_BINS)]
    columns.append("edge_density")
    if channels > 1:
        colours = CHANNEL_NAMES.get(channels) or tuple(f"channel{c}" for c in range(channels))
        columns += [f"{colour}_mean" for colour in colours]
        columns += [f"{colour}_std" for colour in colours]
        columns.append("saturation_mean")
    columns += [
        f"thumbnail_{row}_{column}"
        for row in range(min(THUMBNAIL, height))
        for column in range(min(THUMBNAIL, width))
    ]
    return columns


def summarize(images: np.ndarray) -> np.ndarray:
    """(images, len(names)) float64 for a batch of (images, height, width, channels), pixels in
    0..1 as the model takes them."""
    if images.ndim != 4:
        raise ValueError(
            f"expected a batch of (height, width, channels) images, got {images.shape}"
        )
    images = images.astype(np.float32, copy=False)
    count, channels = len(images), images.shape[3]
    brightness = images.mean(axis=3)  # the channels' mean: grayscale as it is
    flat = brightness.reshape(count, -1)
    columns = [flat.mean(axis=1), flat.std(axis=1)]
    columns += list(np.percentile(flat, PERCENTILES, axis=1))
    bins = np.minimum((flat * HISTOGRAM_BINS).astype(np.int64), HISTOGRAM_BINS - 1)
    for index in range(HISTOGRAM_BINS):
        columns.append((bins == index).mean(axis=1))
    columns.append(edge_density(brightness))
    if channels > 1:
        per_channel = images.reshape(count, -1, channels)
        columns += list(per_channel.mean(axis=1).T) + list(per_channel.std(axis=1).T)
        columns.append((images.max(axis=3) - images.min(axis=3)).reshape(count, -1).mean(axis=1))
    columns += thumbnail(brightness)
    return np.stack(columns, axis=1).astype(np.float64)


def edge_density(brightness: np.ndarray) -> np.ndarray:
    """Share of neighbouring pixel pairs (across and down) whose brightness differs by more than
    EDGE_STEP; 0 for an image one pixel wide and high."""
    count = len(brightness)
    across = np.abs(np.diff(brightness, axis=2)).reshape(count, -1) > EDGE_STEP
    down = np.abs(np.diff(brightness, axis=1)).reshape(count, -1) > EDGE_STEP
    pairs = across.shape[1] + down.shape[1]
    if pairs == 0:
        return np.zeros(count)
    edges = across.sum(axis=1) + down.sum(axis=1)
    return np.asarray(edges / pairs, dtype=np.float64)


def thumbnail(brightness: np.ndarray) -> list[np.ndarray]:
    """Mean brightness of each cell of a coarse grid, row by row."""
    _, height, width = brightness.shape
    rows = np.linspace(0, height, min(THUMBNAIL, height) + 1).astype(int)
    columns = np.linspace(0, width, min(THUMBNAIL, width) + 1).astype(int)
    return [
        brightness[:, top:bottom, left:right].mean(axis=(1, 2))
        for top, bottom in itertools.pairwise(rows)
        for left, right in itertools.pairwise(columns)
    ]
