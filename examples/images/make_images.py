"""Write data/raw/shapes/: 750 drawn images of circles, squares and triangles, one
sub-folder per class, without any download. Each image has its own size (40 to 96 pixels wide,
not always square), background (a plain colour or a gradient), shape colour, position, size and
rotation, and pixel noise; most are PNG (a few of them grayscale), about a third JPEG. The same
--seed writes the same files.

    python make_images.py                          # data/raw/shapes, 250 images per class
    python make_images.py --per-class 40 --out /tmp/shapes
"""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle")
SIDES = (40, 96)  # pixels: each image's width is drawn from this range
ASPECT = (0.75, 1.33)  # height / width: resizing to a square stretches the shapes a little
NOISE = (3.0, 14.0)  # standard deviation of the pixel noise, in 0..255 levels
JPEG_SHARE = 0.35
GRAYSCALE_SHARE = 0.1  # of the PNGs: the kit converts every file to the colour mode declared


def make_image(kind: str, rng: np.random.Generator) -> Image.Image:
    width = int(rng.integers(SIDES[0], SIDES[1] + 1))
    height = round(width * rng.uniform(*ASPECT))
    pixels = background(width, height, rng)
    image = Image.fromarray(pixels)
    # The shape spans 50-85 % of the shorter side, centred anywhere it fits whole.
    radius = rng.uniform(0.25, 0.425) * min(width, height)
    centre_x = rng.uniform(radius, width - radius)
    centre_y = rng.uniform(radius, height - radius)
    draw = ImageDraw.Draw(image)
    fill = shape_colour(pixels, rng)
    if kind == "circle":
        box = (centre_x - radius, centre_y - radius, centre_x + radius, centre_y + radius)
        draw.ellipse(box, fill=fill)
    else:
        corners = 4 if kind == "square" else 3
        turn = rng.uniform(0, 2 * math.pi)
        points = [
            (
                centre_x + radius * math.cos(turn + 2 * math.pi * k / corners),
                centre_y + radius * math.sin(turn + 2 * math.pi * k / corners),
            )
            for k in range(corners)
        ]
        draw.polygon(points, fill=fill)
    sigma = rng.uniform(*NOISE)
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, sigma, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A plain colour, or a gradient between two colours along a random direction."""
    start = rng.uniform(0, 255, 3)
    if rng.random() < 0.5:
        return np.broadcast_to(start, (height, width, 3)).astype(np.uint8)
    end = rng.uniform(0, 255, 3)
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    along = xs * math.cos(angle) + ys * math.sin(angle)
    share = (along - along.min()) / max(float(np.ptp(along)), 1.0)
    return (start + share[..., None] * (end - start)).astype(np.uint8)


def shape_colour(pixels: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random colour that stands out from the background: its brightness differs from the
    background's mean by at least 70 levels, so the shape is visible in grayscale too."""
    backdrop = float(pixels.mean())
    while True:
        colour = rng.integers(0, 256, 3)
        if abs(float(colour.mean()) - backdrop) >= 70:
            return (int(colour[0]), int(colour[1]), int(colour[2]))


def write_images(out: Path, per_class: int, seed: int) -> int:
    """All the images, written to a folder beside `out` and moved into place at the end, so an
    interrupted run leaves no half-written data set."""
    rng = np.random.default_rng(seed)
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    for kind in CLASSES:
        (staging / kind).mkdir(parents=True)
    for index in range(per_class):
        for kind in CLASSES:
            image = make_image(kind, rng)
            if rng.random() < JPEG_SHARE:
                quality = int(rng.integers(70, 96))
                image.save(staging / kind / f"{kind}_{index:04d}.jpg", quality=quality)
                continue
            if rng.random() < GRAYSCALE_SHARE:
                image = image.convert("L")
            image.save(staging / kind / f"{kind}_{index:04d}.png")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return per_class * len(CLASSES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-class", type=int, default=250, help="Images of each shape (default 250)."
    )
    parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")
    parser.add_argument("--out", type=Path, default=Path("data/raw/shapes"))
    args = parser.parse_args()
    if args.per_class < 10:
        parser.error("--per-class must be at least 10: the split needs a few of each class")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    count = write_images(args.out, args.per_class, args.seed)
    print(f"wrote {count} images ({len(CLASSES)} classes) to {args.out}")


if __name__ == "__main__":
    main()
