"""Encoded images in requests (ml/serve/images.py and the request checks that route to it): v1
{"b64": ...} instances and v2 BYTES tensors decode to exactly the rows training decodes from the
same files, and every bad image is refused with a status and the field's name. The same through
HTTP against the running service is in test_image_service.py."""

from __future__ import annotations

import base64
import io
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml.data import images
from ml.serve.images import IMAGES_PER_REQUEST_AT_LIMIT, MIN_PIXEL_LIMIT, decode_rows, pixel_limit
from ml.serve.model import LoadedModel, load
from ml.serve.validation import RequestError, v1_rows, v2_rows
from tests.paths import REPO_ROOT
from tests.serving import rejected

MAX_ROWS = 8


@pytest.fixture(scope="module")
def model(image_onnx) -> LoadedModel:
    return load(image_onnx)


@pytest.fixture(scope="module")
def files(image_folder) -> list[Path]:
    """Two PNG and two JPEG files of different sizes and classes."""
    return sorted(image_folder.glob("*/*-00[01].*"))[:4]


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def v1(*encoded: object) -> dict:
    return {"instances": [{"b64": value} for value in encoded]}


def v2(data: object, shape: list | None = None, datatype: str = "BYTES") -> dict:
    shape = [len(data)] if shape is None and isinstance(data, list) else shape
    return {"inputs": [{"name": "image", "shape": shape, "datatype": datatype, "data": data}]}


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares `width` x `height` pixels and holds none: a decompression bomb's
    header, small whatever size it claims."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_v1_and_v2_images_decode_to_the_training_rows(model, files):
    expected = images.decode_all(files, model.preprocessing)
    encoded = [b64(path.read_bytes()) for path in files]
    np.testing.assert_array_equal(v1_rows(v1(*encoded), model, MAX_ROWS), expected)
    np.testing.assert_array_equal(v2_rows(v2(encoded), model, MAX_ROWS), expected)
    nested = v2([[value] for value in encoded], shape=[len(encoded), 1])
    np.testing.assert_array_equal(v2_rows(nested, model, MAX_ROWS), expected)
    # Line-wrapped (as `base64` writes), URL-safe and unpadded base64 are the same bytes.
    content = files[0].read_bytes()
    wrapped = base64.encodebytes(content).decode()
    urlsafe = base64.urlsafe_b64encode(content).decode().rstrip("=")
    for text in (wrapped, urlsafe):
        np.testing.assert_array_equal(v1_rows(v1(text), model, MAX_ROWS), expected[:1])


def test_tensor_requests_still_work_for_an_image_model(model, files):
    rows = images.decode_all(files, model.preprocessing)
    np.testing.assert_array_equal(v1_rows({"instances": rows.tolist()}, model, MAX_ROWS), rows)
    tensor = v2(rows.ravel().tolist(), shape=list(rows.shape), datatype="FP32")
    np.testing.assert_array_equal(v2_rows(tensor, model, MAX_ROWS), rows)


def test_a_grayscale_image_is_converted_as_in_training(model):
    gray = png(40, 24, mode="L")
    rows = v1_rows(v1(b64(gray)), model, MAX_ROWS)
    np.testing.assert_array_equal(rows[0], images.decode(gray, model.preprocessing))
    assert rows.shape == (1, 16, 16, 3)
    np.testing.assert_allclose(rows, 1.0)  # white, in three channels


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    return buffer.getvalue()


def truncated(files: list[Path]) -> bytes:
    content = next(path for path in files if path.suffix == ".png").read_bytes()
    return content[: len(content) // 2]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64!", r"instances\[1\]\.b64 is not base64"),
        ("", r"instances\[1\]\.b64 is empty"),
        (12, r"instances\[1\]\.b64 must be base64 text, got a number"),
        (b64(b"plain text, no image"), r"instances\[1\]\.b64 is not a PNG or JPEG image"),
        (b64(gif()), r"instances\[1\]\.b64 is not a PNG or JPEG image"),
        ("truncated", r"instances\[1\]\.b64: the image cannot be decoded \(OSError"),
    ],
    ids=["not base64", "empty", "a number", "not an image", "a GIF", "a truncated PNG"],
)
def test_bad_images_are_refused_naming_the_field(model, files, value, message):
    if value == "truncated":
        value = b64(truncated(files))
    good = b64(files[0].read_bytes())
    text = rejected(v1_rows, v1(good, value), model, MAX_ROWS)
    assert re.search(message, text), text
    v2_message = message.replace(r"instances\[1\]\.b64", r"inputs\[0\]\.data\[1\]")
    text = rejected(v2_rows, v2([good, value]), model, MAX_ROWS)
    assert re.search(v2_message, text), text


def test_a_decompression_bomb_is_refused_from_its_header(model):
    limit = pixel_limit(model.preprocessing)
    assert limit == MIN_PIXEL_LIMIT  # a 16 x 16 model takes any photo up to 4096 x 4096
    side = int(limit**0.5) + 1
    bomb = png_header(side, side)
    assert len(bomb) < 100
    text = rejected(v1_rows, v1(b64(bomb)), model, MAX_ROWS, status=413)
    assert text.startswith(f"instances[0].b64: the image is {side} x {side} pixels")
    assert f"at most {limit} pixels" in text
    # Beyond Pillow's own refusal (twice its MAX_IMAGE_PIXELS): refused the same way.
    huge = png_header(50_000, 50_000)
    text = rejected(v2_rows, v2([b64(huge)]), model, MAX_ROWS, status=413)
    assert text.startswith("inputs[0].data[0]: the image")


def test_a_request_decodes_at_most_a_few_limit_sized_images(model):
    side = int(pixel_limit(model.preprocessing) ** 0.5)  # each image under the limit
    many = [b64(png_header(side, side))] * (IMAGES_PER_REQUEST_AT_LIMIT + 1)
    text = rejected(v1_rows, v1(*many), model, MAX_ROWS, status=413)
    assert text.startswith(f"instances[{IMAGES_PER_REQUEST_AT_LIMIT}].b64: the request's images")


def test_a_large_model_takes_larger_images():
    assert pixel_limit(images.Preprocessing((1024, 768), "rgb")) == 8 * 1024 * 8 * 768


def test_too_many_images_are_refused(model, files):
    encoded = [b64(files[0].read_bytes())] * (MAX_ROWS + 1)
    assert "exceed the limit of 8 rows" in rejected(
        v1_rows, v1(*encoded), model, MAX_ROWS, status=413
    )
    assert "inputs[0].shape[0]" in rejected(v2_rows, v2(encoded), model, MAX_ROWS, status=413)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            v2(["x"], shape=[1, 16, 16, 3]),
            r"inputs\[0\]\.shape must be \[N\] for N encoded images",
        ),
        (v2(["x", "y"], shape=[3]), r"inputs\[0\]\.data holds 2 images but shape \[3\] needs 3"),
        (v2("x", shape=[1]), r"inputs\[0\]\.data must be a list of base64 images, got text"),
        (
            {"instances": [{"b64": "x", "key": 1}]},
            r"instances\[0\] must be \{\"b64\": .*got the keys \['b64', 'key'\]",
        ),
        ({"instances": [{"image": "x"}]}, r"instances\[0\] must be \{\"b64\""),
    ],
    ids=[
        "an image-shaped BYTES tensor",
        "fewer images than the shape",
        "data not a list",
        "an extra key",
        "another key",
    ],
)
def test_malformed_image_requests_are_refused(model, payload, message):
    call = v2_rows if "inputs" in payload else v1_rows
    text = rejected(call, payload, model, MAX_ROWS)
    assert re.search(message, text), text


def test_images_sent_to_a_model_not_trained_on_image_files_are_refused(
    tabular_onnx, digits_onnx, files
):
    encoded = b64(files[0].read_bytes())
    tabular = load(tabular_onnx)
    text = rejected(v1_rows, v1(encoded), tabular, MAX_ROWS)
    assert text.startswith("instances[0].b64: encoded images work for models trained on image")
    assert "named features" in text
    bytes_tensor = {
        "inputs": [{"name": "features", "shape": [1], "datatype": "BYTES", "data": [encoded]}]
    }
    text = rejected(v2_rows, bytes_tensor, tabular, MAX_ROWS)
    assert text == (
        "inputs[0].datatype 'BYTES' is not numeric; send 'FP32' (encoded images work for "
        "models trained on image files only)"
    )
    # The bundled 8 x 8 digits are arrays, not files: no decoding rule in the metadata.
    digits = load(digits_onnx)
    assert digits.preprocessing is None
    text = rejected(v1_rows, v1(encoded), digits, MAX_ROWS)
    assert "this model takes rows shaped [8, 8, 1]" in text


def mutations(content: bytes, count: int, seed: int) -> list[bytes]:
    """`content` with a few random bytes changed, cut short or both."""
    rng = np.random.default_rng(seed)
    result = []
    for _ in range(count):
        damaged = bytearray(content)
        for position in rng.integers(0, len(damaged), size=int(rng.integers(1, 6))):
            damaged[position] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            damaged = damaged[: int(rng.integers(1, len(damaged)))]
        result.append(bytes(damaged))
    return result


def test_damaged_files_give_a_row_or_a_client_error_never_anything_else(model, files):
    preprocessing = model.preprocessing
    for seed, path in enumerate(files):
        for damaged in mutations(path.read_bytes(), 60, seed):
            try:
                rows = decode_rows([("instances[0].b64", b64(damaged))], preprocessing)
            except RequestError as error:
                assert error.status in (400, 413)
                assert error.message.startswith("instances[0].b64")
            else:
                assert rows.shape == (1, 16, 16, 3)
                assert np.isfinite(rows).all()


def test_decoding_images_loads_neither_tensorflow_nor_keras(image_onnx, files):
    check = (
        "import base64, sys; from ml.serve.model import load; "
        "from ml.serve.validation import v1_rows; "
        f"content = open({str(files[0])!r}, 'rb').read(); "
        f"v1_rows({{'instances': [{{'b64': base64.b64encode(content).decode()}}]}}, "
        f"load({str(image_onnx)!r}), 8); "
        "print(sorted({'tensorflow', 'keras', 'PIL'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['PIL']"
