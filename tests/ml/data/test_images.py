"""Image folders: what `scan` accepts and refuses, that every file must decode, and the one
decoding rule (colour mode, bilinear resize to the declared size, pixels in 0..1)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml.data import images
from ml.data.images import ImageError, Preprocessing
from tests.image_folders import SHAPES, write_image_folder


def test_scan_lists_every_image_with_its_class(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "shapes", per_class=4)
    (root / "circle" / ".DS_Store").write_bytes(b"\0")  # hidden files are skipped
    found = images.scan(root)
    assert len(found) == 4 * len(SHAPES)
    assert {label for _, label in found} == set(SHAPES)
    assert all(path.startswith(f"{label}/") for path, label in found)
    assert {Path(path).suffix for path, _ in found} == {".png", ".jpg"}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda root: (root / "cross" / "notes.txt").write_text("x"), "cross/notes.txt"),
        (lambda root: (root / "stray.png").write_bytes(b"x"), "stray.png"),
        (lambda root: (root / "triangle").mkdir(), "without images in .*: triangle"),
    ],
    ids=["non-image file", "file outside the class folders", "empty class folder"],
)
def test_scan_refuses_a_folder_it_cannot_use(tmp_path: Path, damage, message: str) -> None:
    root = write_image_folder(tmp_path / "shapes", per_class=2)
    damage(root)
    with pytest.raises(ImageError, match=message):
        images.scan(root)


def test_scan_needs_two_classes(tmp_path: Path) -> None:
    root = tmp_path / "shapes"
    write_image_folder(root, per_class=2)
    for shape in SHAPES[1:]:
        for file in (root / shape).iterdir():
            file.unlink()
        (root / shape).rmdir()
    with pytest.raises(ImageError, match=r"1 class folder.*at least two"):
        images.scan(root)
    with pytest.raises(ImageError, match="not found"):
        images.scan(tmp_path / "missing")


def test_corrupt_truncated_and_disguised_files_are_named(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "shapes", per_class=2)
    whole = (root / "circle" / "circle-001.png").read_bytes()
    (root / "circle" / "circle-001.png").write_bytes(whole[: len(whole) // 2])  # truncated
    (root / "square" / "square-000.jpg").write_bytes(b"not an image")
    Image.new("RGB", (8, 8)).save(root / "cross" / "cross-000.jpg", format="GIF")
    files = [path for path, _ in images.scan(root)]
    with pytest.raises(ImageError) as failure:
        images.check_decodable(root, files)
    message = str(failure.value)
    assert "3 image(s)" in message
    for name in ("circle/circle-001.png", "square/square-000.jpg", "cross/cross-000.jpg"):
        assert name in message
    assert "GIF, not PNG or JPEG" in message


def test_decode_resizes_any_size_to_the_declared_one(tmp_path: Path) -> None:
    Image.new("RGB", (30, 10), (255, 0, 0)).save(tmp_path / "wide.png")
    Image.new("L", (5, 40), 128).save(tmp_path / "tall.jpg")
    rgb = Preprocessing((12, 16), "rgb")
    gray = Preprocessing((12, 16), "grayscale")
    wide, tall = images.decode_all([tmp_path / "wide.png", tmp_path / "tall.jpg"], rgb)
    assert wide.shape == tall.shape == (12, 16, 3)
    assert wide.dtype == np.float32
    np.testing.assert_allclose(wide[..., 0], 1.0)
    np.testing.assert_allclose(wide[..., 1:], 0.0)
    assert images.decode(tmp_path / "wide.png", gray).shape == (12, 16, 1)
    # ITU-R 601-2 luma of pure red, as Pillow converts RGB to L.
    np.testing.assert_allclose(images.decode(tmp_path / "wide.png", gray), 76 / 255, atol=1e-6)


def test_preprocessing_round_trips_through_dataset_json() -> None:
    rule = Preprocessing((24, 32), "grayscale")
    assert Preprocessing.from_dataset({"preprocessing": rule.describe()}) == rule
    assert rule.input_shape == (24, 32, 1)


def test_decode_reads_a_path_bytes_or_a_file_object_alike(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "shapes", per_class=2)
    rule = Preprocessing((12, 16), "rgb")
    for path in sorted(root.glob("*/*")):  # PNG and JPEG files
        expected = images.decode(path, rule)
        np.testing.assert_array_equal(images.decode(path.read_bytes(), rule), expected)
        with path.open("rb") as handle:
            np.testing.assert_array_equal(images.decode(handle, rule), expected)


def test_decode_tries_no_decoder_but_png_and_jpeg(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "image.gif", format="GIF")
    with pytest.raises(Image.UnidentifiedImageError):
        images.decode(tmp_path / "image.gif", Preprocessing((8, 8), "rgb"))


@pytest.mark.parametrize("color_mode", ["rgb", "grayscale"])
def test_a_png_of_model_input_pixels_decodes_to_exactly_those_pixels(color_mode: str) -> None:
    """Examples are kept as PNG: the decoding rule applied to one gives back the very rows."""
    preprocessing = Preprocessing((20, 30), color_mode)
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, size=preprocessing.input_shape)
    levels[0, :3, 0] = [0, 255, 128]  # both ends of the range
    pixels = (levels / images.PIXEL_MAX).astype(np.float32)
    content = images.encode_png(pixels)
    with Image.open(io.BytesIO(content)) as image:
        assert image.format == "PNG" and image.size == (30, 20)
    np.testing.assert_array_equal(images.decode(content, preprocessing), pixels)


def test_encode_png_refuses_what_is_no_image_of_pixels_in_0_to_1() -> None:
    with pytest.raises(ValueError, match=r"not an image of 0\.\.1 pixels"):
        images.encode_png(np.full((4, 4, 3), 2.0, dtype=np.float32))
    with pytest.raises(ValueError, match=r"with 1 or 3 channels: \(4, 4, 2\)"):
        images.encode_png(np.zeros((4, 4, 2), dtype=np.float32))
