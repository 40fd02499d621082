"""Encoded images in inference requests: base64 PNG or JPEG -> the model's input rows.

A model trained on image files records its decoding rule (size, colour mode, scaling) in its
ONNX metadata; the images of a request are decoded by that rule with ml.data.images' own helpers,
so a served image gives the same row as the same file in training and evaluation. Pillow and
numpy only.

Decoding is bounded before it starts: the header gives the image's size, and an image larger
than the model's pixel limit, or a request whose images add up to more than a few of those, is
refused (413) without decoding its pixels, whatever its (compressed) size in the body: PNG packs
a blank page about a thousandfold, so a body of kilobytes can declare hundreds of megapixels.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import struct
import warnings
import zlib
from collections.abc import Iterator

import numpy as np
from PIL import Image

from ml.data import images
from ml.data.images import Preprocessing
from ml.serve.validation import RequestError, json_type

# Any photo up to 4096 x 4096 pixels, or up to 8 times the model's input per side for models
# whose input is larger than 512 x 512.
MIN_PIXEL_LIMIT = 4096 * 4096
SIDE_FACTOR = 8
IMAGES_PER_REQUEST_AT_LIMIT = 4  # a request's images add up to at most 4 limit-sized ones

# What Pillow's PNG and JPEG readers raise for malformed content, besides OSError (truncated
# data, unidentified formats) and its decompression-bomb check.
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error)


def pixel_limit(preprocessing: Preprocessing) -> int:
    """The most pixels one image of a request may have, from the model's input size."""
    height, width = preprocessing.size
    return max(MIN_PIXEL_LIMIT, math.prod((SIDE_FACTOR * height, SIDE_FACTOR * width)))


def decode_rows(encoded: list[tuple[str, object]], preprocessing: Preprocessing) -> np.ndarray:
    """The input rows of `encoded`: (field, value) pairs, each value base64 text of a PNG or a
    JPEG, named by `field` in any error (`instances[2].b64`, `inputs[0].data[1]`). Every
    image's header is read and its size checked before any image is decoded."""
    limit = pixel_limit(preprocessing)
    budget = IMAGES_PER_REQUEST_AT_LIMIT * limit
    rows = np.empty((len(encoded), *preprocessing.input_shape), dtype=np.float32)
    with contextlib.ExitStack() as opened:
        headers = []
        for where, text in encoded:
            content = base64_content(text, where)
            image = opened.enter_context(opening(content, where))
            pixels = image.width * image.height
            if pixels > limit:
                raise RequestError(
                    413,
                    f"{where}: the image is {image.width} x {image.height} pixels; this model "
                    f"takes images of at most {limit} pixels (it resizes them to "
                    f"{preprocessing.size[1]} x {preprocessing.size[0]})",
                )
            budget -= pixels
            if budget < 0:
                raise RequestError(
                    413,
                    f"{where}: the request's images exceed "
                    f"{IMAGES_PER_REQUEST_AT_LIMIT * limit} pixels in all; send fewer or "
                    "smaller images per request",
                )
            headers.append((where, image))
        for row, (where, image) in enumerate(headers):
            with failures(where):
                rows[row] = images.to_input(image, preprocessing)
    return rows


def opening(content: bytes, where: str) -> Image.Image:
    """The image in `content`, its header read (a context manager, as Pillow's images are)."""
    with failures(where), warnings.catch_warnings():
        # Pillow warns, then refuses at twice its own limit; ours is lower and answers.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return images.open_image(content)


@contextlib.contextmanager
def failures(where: str) -> Iterator[None]:
    """Pillow's errors for what a request holds, as the client's errors naming the field."""
    try:
        yield
    except Image.DecompressionBombError as exc:
        raise RequestError(413, f"{where}: the image is too large to decode: {exc}") from None
    except Image.UnidentifiedImageError:
        raise RequestError(
            400, f"{where} is not a PNG or JPEG image (send the file's bytes, base64-encoded)"
        ) from None
    except DECODE_ERRORS as exc:
        raise RequestError(
            400, f"{where}: the image cannot be decoded ({type(exc).__name__}: {exc})"
        ) from None


def base64_content(text: object, where: str) -> bytes:
    """The bytes of base64 `text`: standard or URL-safe alphabet, padded or not, line breaks
    ignored (`base64` wraps its output at 76 characters); anything else is refused."""
    if not isinstance(text, str):
        raise RequestError(400, f"{where} must be base64 text, got {json_type(text)}")
    compact = "".join(text.split()).replace("-", "+").replace("_", "/")
    if not compact:
        raise RequestError(400, f"{where} is empty; send the image file's bytes, base64-encoded")
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(
            400, f"{where} is not base64 (A-Z, a-z, 0-9, + and /, padded with =)"
        ) from None
