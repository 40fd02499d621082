"""Image-folder sources: find the images, check they decode, and decode them for a model.

A source is a directory with one sub-folder per class, holding PNG or JPEG files. `prepare`
records the file list (the manifest), not the pixels; train, evaluate and export decode the files
with `decode`, so all of them apply one rule, the one dataset.json's `preprocessing` records:
convert to the colour mode, resize to `size` (height, width) with bilinear filtering whatever the
file's own size (the aspect ratio is not kept), scale the pixels from 0..255 to 0..1.

Pillow only: evaluate and the service (ml/serve/images.py, images sent in requests) decode
images without TensorFlow, with this module's `decode`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from ml.errors import UserError

if TYPE_CHECKING:
    import PIL.Image

SUFFIXES = (".png", ".jpg", ".jpeg")
FORMATS = ("PNG", "JPEG")  # what the files must hold, whatever their suffix says
PIL_MODES = {"grayscale": "L", "rgb": "RGB"}
CHANNELS = {"grayscale": 1, "rgb": 3}
PIXEL_MAX = 255.0
SHOWN = 5  # problem files named in one error message


class ImageError(UserError, ValueError):
    """An image folder that cannot be used as declared; the message names the files."""


@dataclass(frozen=True)
class Preprocessing:
    """The decoding rule, as dataset.json and the ONNX metadata record it."""

    size: tuple[int, int]  # height, width
    color_mode: str  # grayscale | rgb

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (*self.size, CHANNELS[self.color_mode])

    def describe(self) -> dict:
        return {
            "size": list(self.size),
            "color_mode": self.color_mode,
            "resample": "bilinear",
            "scale": 1 / PIXEL_MAX,
        }

    @classmethod
    def from_dataset(cls, dataset: dict) -> Preprocessing:
        recorded = dataset["preprocessing"]
        height, width = recorded["size"]
        return cls((height, width), recorded["color_mode"])


def decode(source: Path | bytes | BinaryIO, preprocessing: Preprocessing) -> np.ndarray:
    """One image (a file's path, its bytes or a binary file object) as a float32 array of
    `preprocessing.input_shape`, pixels in 0..1."""
    with open_image(source) as image:
        return to_input(image, preprocessing)


def open_image(source: Path | bytes | BinaryIO) -> PIL.Image.Image:
    """The image, opened as PNG or JPEG only (Pillow's other decoders are never tried on what
    a file or a request holds); only its header is read, so its size can be checked before its
    pixels are decoded. A context manager, as Pillow's images are."""
    from PIL import Image

    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    return Image.open(source, formats=FORMATS)


def to_input(image: PIL.Image.Image, preprocessing: Preprocessing) -> np.ndarray:
    """The decoding rule: colour mode, bilinear resize to `size`, pixels scaled to 0..1."""
    from PIL import Image

    height, width = preprocessing.size
    converted = image.convert(PIL_MODES[preprocessing.color_mode])
    resized = converted.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(resized, dtype=np.float32) / PIXEL_MAX
    return pixels.reshape(preprocessing.input_shape)


def encode_png(pixels: np.ndarray) -> bytes:
    """A model-input image (`Preprocessing.input_shape`, pixels k/255) as a PNG: lossless and
    already of the target size and colour mode, so `decode` gives back exactly `pixels`."""
    from PIL import Image

    levels = np.rint(np.asarray(pixels, dtype=np.float32) * PIXEL_MAX)
    if (
        levels.ndim != 3
        or levels.shape[2] not in (1, 3)
        or not np.all((levels >= 0) & (levels <= PIXEL_MAX))
    ):
        raise ValueError(f"not an image of 0..1 pixels with 1 or 3 channels: {pixels.shape}")
    channels = levels.astype(np.uint8)
    image = Image.fromarray(channels[:, :, 0] if channels.shape[2] == 1 else channels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def decode_all(paths: list[Path], preprocessing: Preprocessing) -> np.ndarray:
    """The files as one float32 batch: for the few rows that fit in memory at once."""
    batch = np.empty((len(paths), *preprocessing.input_shape), dtype=np.float32)
    for row, path in enumerate(paths):
        batch[row] = decode(path, preprocessing)
    return batch


def scan(root: Path) -> list[tuple[str, str]]:
    """(path relative to `root`, class) of every image, sorted; the classes are the sub-folder
    names. Hidden files (.DS_Store) are skipped; any other file that is not a PNG or JPEG, a
    file outside the class folders, an empty class folder or fewer than two classes is an error.
    """
    if not root.is_dir():
        raise ImageError(f"image folder not found: {root}")
    strays = [p.name for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    if strays:
        raise ImageError(
            f"{root} holds files outside any class folder ({named(strays)}); put each image "
            "in the sub-folder named after its class"
        )
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise ImageError(
            f"{root} has {len(classes)} class folder(s); a classifier needs at least two "
            "(one sub-folder per class)"
        )
    found, others, empty = [], [], []
    for folder in classes:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        images = [p for p in files if p.suffix.lower() in SUFFIXES]
        others += [p.relative_to(root).as_posix() for p in files if p not in images]
        if not images:
            empty.append(folder.name)
        found += [(p.relative_to(root).as_posix(), folder.name) for p in images]
    if others:
        raise ImageError(
            f"{root} holds files that are not PNG or JPEG images: {named(others)} "
            f"(image files end in {', '.join(SUFFIXES)})"
        )
    if empty:
        raise ImageError(f"class folders without images in {root}: {named(empty)}")
    return found


def check_decodable(root: Path, files: list[str]) -> list[str]:
    """The files' SHA-256 digests; every file must decode completely as a PNG or a JPEG."""
    from PIL import Image

    digests, broken = [], []
    for name in files:
        path = root / name
        try:
            content = path.read_bytes()
            with Image.open(path) as image:
                if image.format not in FORMATS:
                    raise ValueError(f"holds {image.format}, not PNG or JPEG")
                image.load()  # a truncated file fails here, not at the header
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            broken.append(f"{name} ({type(exc).__name__}: {exc})")
            continue
        digests.append(hashlib.sha256(content).hexdigest())
    if broken:
        raise ImageError(f"{len(broken)} image(s) in {root} cannot be read: {named(broken)}")
    return digests


def named(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown if len(items) <= SHOWN else f"{shown} and {len(items) - SHOWN} more"


MANIFEST_COLUMNS = ("path", "label", "sha256")


def manifest_name(split: str) -> str:
    return f"{split}.csv"


def write_manifest(path: Path, rows: list[list[str]]) -> None:
    """One split's files: path (relative to the image folder), class label, content digest."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(rows)


@dataclass(frozen=True)
class ImageFiles:
    """The inputs of one split of an image folder: its files, decoded only when indexed, so a
    data set larger than memory is read a batch at a time. `files[a:b]` is a float32 batch."""

    files: tuple[Path, ...]
    preprocessing: Preprocessing

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, rows: slice) -> np.ndarray:
        return decode_all(list(self.files[rows]), self.preprocessing)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.files), *self.preprocessing.input_shape)

    def batches(self, size: int):
        """The whole split in order, `size` decoded images at a time."""
        for start in range(0, len(self.files), size):
            yield self[start : start + size]


def load_split(data_dir: Path, split: str, dataset: dict) -> tuple[ImageFiles, np.ndarray]:
    """(inputs, class codes) of one prepared split of an image folder."""
    paths, labels = read_manifest(data_dir, split, dataset)
    return ImageFiles(tuple(paths), Preprocessing.from_dataset(dataset)), labels


def read_manifest(data_dir: Path, split: str, dataset: dict) -> tuple[list[Path], np.ndarray]:
    """(image files, class codes) of one prepared split of an image-folder source."""
    root = Path(dataset["image_root"])
    codes = {label: code for code, label in enumerate(dataset["class_labels"])}
    with (Path(data_dir) / manifest_name(split)).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    paths = [root / row["path"] for row in rows]
    labels = np.array([codes[row["label"]] for row in rows], dtype=np.int64)
    return paths, labels
