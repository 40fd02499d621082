"""Encoded images through the running service over loopback: v1 {"b64": ...} and v2 BYTES
requests answer exactly as tensor requests of the same decoded pixels, and as the model on the
rows training decodes from the same files; bad images get 4xx naming the field; the sampled rows
for the drift monitor are the decoded pixels."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from ml.data import images
from ml.serve.model import load
from tests.serving import running_service, write_serve_params


def white_png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


WHITE = white_png()
V1 = "/v1/models/shapes:predict"
V2 = "/v2/models/shapes/infer"


@pytest.fixture(scope="module")
def files(image_folder) -> list[Path]:
    """PNG and JPEG files of every class, of varying sizes (none of them 16 x 16)."""
    return sorted(image_folder.glob("*/*-00[0-3].*"))


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def bytes_tensor(data: list) -> dict:
    return {"inputs": [{"name": "image", "shape": [len(data)], "datatype": "BYTES", "data": data}]}


def post(url: str, body: object) -> httpx.Response:
    return httpx.post(url, content=json.dumps(body), headers={"content-type": "application/json"})


def test_images_and_tensors_of_the_same_pixels_get_the_same_answer(
    image_service, image_onnx, files
):
    for batch in (files[:1], files[1:8]):
        rows = images.decode_all(batch, images.Preprocessing((16, 16), "rgb"))
        expected = load(image_onnx).predict(rows)  # export-time decoding, the model itself
        v1_images = post(image_service + V1, {"instances": [{"b64": b64(p)} for p in batch]})
        v1_tensors = post(image_service + V1, {"instances": rows.tolist()})
        v2_images = post(image_service + V2, bytes_tensor([b64(p) for p in batch]))
        v2_tensors = post(
            image_service + V2,
            {
                "inputs": [
                    {
                        "name": "image",
                        "shape": list(rows.shape),
                        "datatype": "FP32",
                        "data": rows.ravel().tolist(),
                    }
                ]
            },
        )
        for answer in (v1_images, v1_tensors, v2_images, v2_tensors):
            assert answer.status_code == 200, answer.text
        assert v1_images.json() == v1_tensors.json()
        assert v2_images.json() == v2_tensors.json()
        labels = ["circle", "cross", "square"]
        predictions = v1_images.json()["predictions"]
        assert [p["label"] for p in predictions] == [labels[i] for i in expected.argmax(axis=1)]
        probabilities = np.array(
            [[p["probabilities"][label] for label in labels] for p in predictions]
        )
        np.testing.assert_allclose(probabilities, expected, rtol=1e-6)
        # The model tells the shapes apart: each file's class is its folder.
        assert [p["label"] for p in predictions] == [p.parent.name for p in batch]
        outputs = {output["name"]: output["data"] for output in v2_images.json()["outputs"]}
        assert outputs["label"] == [p.parent.name for p in batch]


def test_the_model_metadata_names_the_decoding_rule(image_service):
    metadata = httpx.get(image_service + "/v2/models/shapes").json()
    assert metadata["parameters"]["preprocessing"] == {
        "size": [16, 16],
        "color_mode": "rgb",
        "resample": "bilinear",
        "scale": 1 / 255,
    }


def bomb_header(side: int) -> str:
    """A PNG header declaring side x side pixels (no pixel data): a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IEND", b"")).decode()


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (
            V1,
            {"instances": [{"b64": WHITE}, {"b64": "%%%"}]},
            400,
            "instances[1].b64 is not base64",
        ),
        (V2, bytes_tensor(["QUJD"]), 400, "inputs[0].data[0] is not a PNG or JPEG image"),
        (
            V1,
            {"instances": [{"b64": bomb_header(5000)}]},
            413,
            "instances[0].b64: the image is 5000 x 5000",
        ),
        (V1, {"instances": [{"b64": "QUJD"}] * 9}, 413, "instances: 9 rows exceed the limit of 8"),
        (V2, bytes_tensor(["QUJD"] * 9), 413, "inputs[0].shape[0]: 9 rows exceed the limit"),
        (V1, {"instances": [{"b64": "A" * (1 << 20)}]}, 413, "the limit is 1048576"),
    ],
    ids=["not base64", "not an image", "a bomb", "too many v1", "too many v2", "too large a body"],
)
def test_bad_images_get_a_4xx_naming_the_field(image_service, path, body, status, message):
    answer = post(image_service + path, body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


def test_sampled_rows_are_the_decoded_pixels(image_onnx, files, tmp_path):
    params = write_serve_params(tmp_path / "params.yaml", model_name="shapes", sample_every=1)
    samples = tmp_path / "samples"
    with running_service(image_onnx, params, tmp_path / "log", "--samples", str(samples)) as url:
        answer = post(url + V1, {"instances": [{"b64": b64(p)} for p in files[:2]]})
        assert answer.status_code == 200, answer.text
    lines = [json.loads(line) for file in samples.glob("inputs-*.jsonl") for line in file.open()]
    rows = images.decode_all(files[:2], images.Preprocessing((16, 16), "rgb"))
    sampled = np.array([line["x"] for line in lines], dtype=np.float32)  # float32 as JSON
    np.testing.assert_array_equal(sampled, rows.reshape(2, -1))
