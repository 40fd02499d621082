"""Small image folders written with Pillow: one sub-folder per class of simple synthetic shapes,
PNG and JPEG files of varying sizes, easy enough that a tiny CNN beats chance in two epochs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SHAPES = ("circle", "square", "cross")


def write_image_folder(root: Path, per_class: int = 20, seed: int = 0) -> Path:
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for shape in SHAPES:
        (root / shape).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            width, height = (int(value) for value in rng.integers(20, 40, size=2))
            image = Image.new("RGB", (width, height), (0, 0, 0))
            draw = ImageDraw.Draw(image)
            box = [3, 3, width - 4, height - 4]
            if shape == "circle":
                draw.ellipse(box, fill=(255, 40, 40))
            elif shape == "square":
                draw.rectangle(box, fill=(40, 255, 40))
            else:
                draw.line([0, 0, width, height], fill=(40, 40, 255), width=4)
                draw.line([0, height, width, 0], fill=(40, 40, 255), width=4)
            suffix = "png" if index % 2 else "jpg"
            image.save(root / shape / f"{shape}-{index:03d}.{suffix}")
    return root


def decoded_batches(monkeypatch) -> list[int]:
    """The size of every batch the streaming image pipeline decodes from here on."""
    from ml.data import image_pipeline

    sizes: list[int] = []
    decode_all = image_pipeline.decode_all

    def counted(paths, preprocessing):
        sizes.append(len(paths))
        return decode_all(paths, preprocessing)

    monkeypatch.setattr(image_pipeline, "decode_all", counted)
    return sizes
