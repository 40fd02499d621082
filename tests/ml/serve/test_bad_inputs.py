"""Hand-written bad requests against the real service: each gets a 4xx with a message saying what
is wrong, never a 5xx, and the service keeps answering afterwards. The service under test allows
64 rows and 1 MiB per request (see conftest)."""

from __future__ import annotations

import httpx
import pytest

V1 = "/v1/models/digits:predict"
V2 = "/v2/models/digits/infer"
ROW = [0.25] * 64


def v2(shape, data, datatype="FP32"):
    return {"inputs": [{"name": "image", "shape": shape, "datatype": datatype, "data": data}]}


def post(url: str, path: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{url}{path}", timeout=30, **kwargs)


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (V2, v2([1, 64], ROW), 400, "does not match the model's [batch, 8, 8, 1]"),
        (V1, {"instances": [[0.5] * 10]}, 400, "must be shaped [8, 8, 1]"),
        (V2, v2([1, 8, 8, 1], ["a"] * 64), 400, "contains text"),
        (V1, {"instances": [["0.5"] * 64]}, 400, "contains text"),
        (V2, v2([1, 8, 8, 1], [None] * 64), 400, "null, objects or mixed types"),
        (V1, {"instances": [[1e39] * 64]}, 400, "row 0 holds NaN, infinity"),
        (V2, v2([1, 8, 8, 1], ROW, "BYTES"), 400, "is not numeric"),
        (V1, {"instances": "all of them"}, 400, "'instances' must be a list, got text"),
        (V1, [ROW], 400, '{"instances": [...]}'),
        (V2, {"inputs": [{"name": "pixels"}]}, 400, "inputs[0].name must be 'image'"),
        (V1, {"instances": [[*ROW[:-1], [1]]]}, 400, "ragged"),
        (V1, {"instances": [[0.0]] * 100_000}, 413, "100000 rows exceed the limit of 64"),
        (V2, v2([100_000, 8, 8, 1], ROW), 413, "100000 rows exceed the limit of 64"),
    ],
)
def test_malformed_requests_get_a_4xx_naming_the_problem(
    digits_service, path, body, status, message
):
    response = post(digits_service, path, json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    "content",
    [b'{"instances": [[0.5, ', b"NaN", b'{"instances": [[NaN]]}', b"\xff\xfe", b""],
)
def test_invalid_json_is_400(digits_service, content):
    response = post(
        digits_service, V1, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("the body is not valid JSON")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(digits_service, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = post(digits_service, V1, content=b'{"instances": []}', headers=headers)
    assert response.status_code == 415
    assert "send the body as application/json" in response.json()["error"]


def test_ten_megabyte_body_is_413_and_the_connection_stays_usable(digits_service):
    body = b'{"instances": [' + b"0" * (10 * 1024 * 1024) + b"]}"
    with httpx.Client(base_url=digits_service, timeout=30) as client:
        response = client.post(V1, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 413
        assert response.json()["error"] == (
            f"the body has {len(body)} bytes; the limit is {1024 * 1024}"
        )
        assert client.get("/v2/health/ready").status_code == 200


def test_oversized_body_without_length_is_413(digits_service):
    def chunks():  # chunked transfer encoding: no Content-Length to check up front
        for _ in range(40):
            yield b" " * 65536

    response = post(
        digits_service, V1, content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "exceeds the limit of 1048576 bytes" in response.json()["error"]


def test_bad_requests_are_counted_as_errors_and_the_service_still_predicts(digits_service):
    assert post(digits_service, V1, json={"instances": [[1]]}).status_code == 400
    response = post(digits_service, V1, json={"instances": [ROW]})
    assert response.status_code == 200
    metrics = httpx.get(f"{digits_service}/metrics").text
    assert 'runwright_request_errors_total{endpoint="v1_predict",status="400"}' in metrics
    assert 'status="500"' not in metrics
