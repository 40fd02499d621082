"""Size and cost of an image model's drift reference and monitor pass, by image size: the kit's
per-image summaries (ml/image_summary.py) against one PSI column per pixel.

Measured for each input shape, on the same images:

  reference  bytes of the `reference` metadata entry (JSON) and seconds to compute it from
             --reference-images training images (smooth random pictures, 0..1)
  monitor    seconds and peak memory (tracemalloc) of one drift pass: --samples served images
             written by the service's sampler (ml/serve/sampling.py), read back by
             ml.monitor.drift.load_samples and compared with ml.monitor.drift.compare

  summaries  ml.reference.image_reference, and load_samples given that reference (each image
             summarized 64 at a time while reading)
  pixels     ml.reference.reference_statistics over every pixel, and the sampled rows compared
             as they are (what an image folder's model did before)

Rounds alternate the two; each figure is the median over rounds.

Goals: the summaries' reference stays under 16 KiB at 224x224 RGB; their monitor pass takes at
most the pixels' time at 224x224 RGB.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import _common as common
import numpy as np

NAME = "image_drift"
SHAPES = ((32, 32, 3), (96, 96, 3), (224, 224, 3))
GOAL_BYTES = 16_384
GOAL_RATIO = 1.0


def pictures(count: int, shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """Smooth random images: a coarse random grid blown up to the size, pixels in 0..1."""
    rng = np.random.default_rng(seed)
    height, width, channels = shape
    coarse = rng.random((count, 4, 4, channels), dtype=np.float32)
    rows = np.linspace(0, 3.999, height).astype(int)
    columns = np.linspace(0, 3.999, width).astype(int)
    return np.ascontiguousarray(coarse[:, rows][:, :, columns])


def reference_case(kind: str, training: np.ndarray):
    from ml import reference

    def measure() -> dict:
        started = time.perf_counter()
        if kind == "summaries":
            stats = reference.image_reference([training], training.shape[1:])
        else:
            names = [f"pixel_{i}" for i in range(int(np.prod(training.shape[1:])))]
            stats = reference.reference_statistics(training, names)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "bytes": len(json.dumps(stats)), "stats": stats}

    return measure


def monitor_case(stats: dict, samples: Path, given: dict | None):
    from ml.config import MonitorParams
    from ml.monitor import drift

    settings = MonitorParams(min_samples=10)

    def measure() -> dict:
        tracemalloc.start()
        started = time.perf_counter()
        rows = drift.load_samples(samples, "v1", settings.window_rows, given)
        drift.compare(stats, rows, settings)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return {"seconds": seconds, "peak_mb": peak / 2**20}

    return measure


def measure_shape(shape, reference_images: int, samples: int, repeats: int, tmp: Path) -> dict:
    from ml.serve.sampling import InputSampler

    training = pictures(reference_images, shape, seed=0)
    served = pictures(samples, shape, seed=1)
    folder = tmp / "x".join(map(str, shape))
    sampler = InputSampler(folder, every=1, max_bytes=1 << 40)
    sampler.record(served, np.zeros((samples, 2), dtype=np.float32), "v1")
    sampler.close()
    built = common.interleave(
        {kind: reference_case(kind, training) for kind in ("summaries", "pixels")}, repeats
    )
    stats = {kind: runs[0]["stats"] for kind, runs in built.items()}
    monitored = common.interleave(
        {
            "summaries": monitor_case(stats["summaries"], folder, stats["summaries"]),
            "pixels": monitor_case(stats["pixels"], folder, None),
        },
        repeats,
    )
    result = {}
    for kind in ("summaries", "pixels"):
        result[kind] = {
            "reference_bytes": built[kind][0]["bytes"],
            "reference_seconds": statistics.median(r["seconds"] for r in built[kind]),
            "monitor_seconds": statistics.median(r["seconds"] for r in monitored[kind]),
            "monitor_peak_mb": statistics.median(r["peak_mb"] for r in monitored[kind]),
        }
    return result


def main() -> int:
    parser = common.base_parser(__doc__ or "", repeats=3)
    parser.add_argument("--reference-images", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200, help="Sampled served images.")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    reference_images = 40 if args.quick else args.reference_images
    samples = 40 if args.quick else args.samples
    sys.path.insert(0, str(common.REPO_ROOT))
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-image-drift-") as tmp:
        for shape in SHAPES:
            label = "x".join(map(str, shape))
            figures[label] = measure_shape(shape, reference_images, samples, repeats, Path(tmp))
    rows: list[list[object]] = []
    for label, sides in figures.items():
        for kind, values in sides.items():
            rows.append(
                [
                    f"{label} {kind}",
                    f"{values['reference_bytes'] / 1024:.1f}",
                    f"{values['reference_seconds']:.2f}",
                    f"{values['monitor_seconds']:.2f}",
                    f"{values['monitor_peak_mb']:.0f}",
                ]
            )
    common.print_table(
        ["shape, reference", "reference KiB", "reference s", "monitor s", "monitor peak MiB"],
        rows,
    )
    largest = figures["x".join(map(str, SHAPES[-1]))]
    load = os.getloadavg()[0]
    common.print_goal(
        "summary reference bytes at 224x224x3",
        largest["summaries"]["reference_bytes"],
        GOAL_BYTES,
        load=load,
    )
    common.print_goal(
        "monitor pass summaries / pixels at 224x224x3",
        largest["summaries"]["monitor_seconds"] / largest["pixels"]["monitor_seconds"],
        GOAL_RATIO,
        load=load,
    )
    common.write_results(
        NAME,
        {
            "reference_images": reference_images,
            "samples": samples,
            "shapes": figures,
            "quick": args.quick,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
