"""Images per second of the streaming input pipeline `ml train` feeds from an image folder,
against a plain Python loop reading the same images.

Measured: one pass over N synthetic images (PNG and JPEG, 48-80 pixels a side, written by this
script into a temporary folder), each decoded, converted to RGB, resized to 32x32 and scaled to
0..1 by the same rule (ml.data.images.decode), on at most 2 cores (this process is pinned to
them):

  pipeline  ml.data.image_pipeline.make_dataset: shuffled file names, decoding in tf.data's
            parallel workers, batches of 64, prefetch; no augmentation
  loop      `for path in files: decode(path)` in one Python thread, then the same batches
            stacked with NumPy

Rounds alternate the two; each side's figure is the median over rounds.

Goal: pipeline / loop >= 1.0 (streaming costs nothing against reading the files by hand).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common as common
import numpy as np

NAME = "image_pipeline"
GOAL_RATIO = 1.0
BATCH = 64
CORES = 2


def write_images(root: Path, count: int) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(3)
    paths = []
    for index in range(count):
        width, height = (int(v) for v in rng.integers(48, 80, size=2))
        pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        path = root / f"{index:05d}.{'png' if index % 2 else 'jpg'}"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def time_pipeline(files, labels) -> float:
    from ml.config import GpuParams
    from ml.data import image_pipeline

    dataset = image_pipeline.make_dataset(files, labels, BATCH, GpuParams(), shuffle_seed=0)
    started = time.perf_counter()
    seen = sum(len(images) for images, _ in dataset)
    assert seen == len(files)
    return seen / (time.perf_counter() - started)


def time_loop(files, labels) -> float:
    from ml.data.images import decode

    started = time.perf_counter()
    batch, seen = [], 0
    for path in files.files:
        batch.append(decode(path, files.preprocessing))
        if len(batch) == BATCH:
            seen += len(np.stack(batch))
            batch = []
    seen += len(np.stack(batch)) if batch else 0
    assert seen == len(files)
    return seen / (time.perf_counter() - started)


def main() -> int:
    parser = common.base_parser(__doc__ or "", repeats=3)
    parser.add_argument("--images", type=int, default=2000, help="Images in the folder.")
    args = parser.parse_args()
    count = 256 if args.quick else args.images
    repeats = 1 if args.quick else args.repeats
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:CORES])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(common.REPO_ROOT))
    from ml.data.images import ImageFiles, Preprocessing

    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        paths = write_images(Path(tmp), count)
        files = ImageFiles(tuple(paths), Preprocessing((32, 32), "rgb"))
        labels = np.zeros(len(paths), dtype=np.int64)
        time_pipeline(files, labels)  # warm-up: TensorFlow's import and graph tracing
        rates: dict[str, list[float]] = {"pipeline": [], "loop": []}
        for _ in range(repeats):
            rates["loop"].append(time_loop(files, labels))
            rates["pipeline"].append(time_pipeline(files, labels))
    medians = {side: statistics.median(values) for side, values in rates.items()}
    common.print_table(
        ["side", "images/s (median)", "min", "max"],
        [
            [side, f"{medians[side]:.0f}", f"{min(values):.0f}", f"{max(values):.0f}"]
            for side, values in rates.items()
        ],
    )
    ratio = medians["pipeline"] / medians["loop"]
    common.print_goal(
        f"image pipeline / loop, images/s on {CORES} cores",
        ratio,
        GOAL_RATIO,
        higher_is_better=True,
        load=os.getloadavg()[0],
    )
    common.write_results(
        NAME,
        {"images": count, "cores": CORES, "rates": rates, "ratio": ratio, "quick": args.quick},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
