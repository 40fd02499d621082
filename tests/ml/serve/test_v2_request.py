"""The v2 request's input: the common form decoded by msgspec answers exactly as the general
checks (ml.serve.validation) would, for requests in that form and for every kind of departure
from it, and everything else still gets the general checks' message naming the field."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml.serve import protocol
from ml.serve.model import load
from ml.serve.v2_request import common_rows, read
from ml.serve.validation import RequestError, parse_json, v2_object, v2_rows

MAX_ROWS = 8


@pytest.fixture(scope="module")
def digits(digits_onnx):
    return load(digits_onnx)


def request(rows: int = 1, **tensor) -> dict:
    values = np.random.default_rng(rows).random(rows * 64).round(4).tolist()
    base = {"name": "image", "shape": [rows, 8, 8, 1], "datatype": "FP32", "data": values}
    return {"inputs": [base | tensor]}


def general(body: bytes, model) -> tuple:
    """What the general checks alone answer: (rows, id, outputs) or (status, message)."""
    try:
        payload = v2_object(parse_json(body))
        rows = v2_rows(payload, model, MAX_ROWS)
        return rows, payload.get("id"), protocol.requested_outputs(payload, model)
    except RequestError as exc:
        return exc.status, exc.message


def answered(body: bytes, model) -> tuple:
    try:
        return read(body, model, MAX_ROWS)
    except RequestError as exc:
        return exc.status, exc.message


def assert_same(body: bytes, model) -> None:
    got, expected = answered(body, model), general(body, model)
    if isinstance(expected[0], np.ndarray):
        assert isinstance(got[0], np.ndarray), (body, got)
        assert got[0].dtype == expected[0].dtype == np.float32
        assert got[0].shape == expected[0].shape
        assert np.array_equal(got[0], expected[0])
        assert got[1:] == expected[1:]
    else:
        assert got == expected, body


@pytest.mark.parametrize("rows", [1, 3, 8])
@pytest.mark.parametrize("datatype", ["FP32", "FP16", "FP64"])
def test_the_common_form_takes_the_fast_path_with_the_same_rows(digits, rows, datatype):
    payload = request(rows, datatype=datatype) | {"id": "req-1", "parameters": {"a": 1}}
    payload["inputs"][0]["parameters"] = {"binary_data": False}
    body = orjson.dumps(payload)
    assert common_rows(body, digits, MAX_ROWS) is not None
    assert_same(body, digits)
    _, request_id, outputs = read(body, digits, MAX_ROWS)
    assert (request_id, outputs) == ("req-1", ["probabilities", "label"])


def test_integers_and_fields_it_does_not_know_are_the_common_form_too(digits):
    for payload in (request(data=[1] * 64), request() | {"something": [1, 2], "x": None}):
        body = orjson.dumps(payload)
        assert common_rows(body, digits, MAX_ROWS) is not None
        assert_same(body, digits)


DEPARTURES = {
    # Other forms the general checks accept.
    "nested data": request(data=np.zeros((1, 8, 8, 1)).tolist()),
    "integer datatype": request(datatype="INT32", data=[1] * 64),
    "outputs chosen": request() | {"outputs": [{"name": "label"}]},
    # Mistakes, each named by the general checks.
    "not an object": [1, 2],
    "no inputs": {"id": "x"},
    "two inputs": {"inputs": request()["inputs"] * 2},
    "input not an object": {"inputs": [[1, 2]]},
    "id a number": request() | {"id": 7},
    "id null": request() | {"id": None},
    "parameters a list": request() | {"parameters": [1]},
    "tensor parameters text": request(parameters="x"),
    "wrong name": request(name="pixels"),
    "text datatype": request(datatype="STRING"),
    "datatype a list": request(datatype=["FP32"]),
    "BYTES for a tensor model": request(datatype="BYTES", data=["aGk="]),
    "fractional shape": request(shape=[1, 8.0, 8, 1]),
    "boolean shape": request(shape=[True, 8, 8, 1]),
    "empty shape": request(shape=[]),
    "wrong row shape": request(shape=[1, 64]),
    "zero rows": request(shape=[0, 8, 8, 1], data=[]),
    "too many rows": request(MAX_ROWS + 1),
    "negative rows": request(shape=[-1, 8, 8, 1]),
    "too few numbers": request(data=[0.5] * 63),
    "too many numbers": request(data=[0.5] * 65),
    "text in data": request(data=["0.5"] * 64),
    "boolean in data": request(data=[True] * 64),
    "null in data": request(data=[None] * 64),
    "beyond float32": request(data=[1e39] + [0.0] * 63),
    "beyond float64": None,  # the body below: a number JSON cannot hold in a double
}


@pytest.mark.parametrize("case", sorted(DEPARTURES))
def test_every_departure_from_the_common_form_is_answered_by_the_general_checks(digits, case):
    payload = DEPARTURES[case]
    if payload is None:
        body = orjson.dumps(request()).replace(b'"data":[', b'"data":[1e400,', 1)
    else:
        body = orjson.dumps(payload)
    assert common_rows(body, digits, MAX_ROWS) is None
    assert_same(body, digits)


def test_a_body_that_is_not_json_gets_the_general_message(digits):
    for body in (b"", b'{"inputs": [', b"\xff", b'{"inputs": NaN}'):
        assert common_rows(body, digits, MAX_ROWS) is None
        status, message = answered(body, digits)
        assert status == 400 and message.startswith("the body is not valid JSON")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
PATHS = [
    (),
    ("inputs",),
    ("inputs", 0),
    ("inputs", 0, "name"),
    ("inputs", 0, "datatype"),
    ("inputs", 0, "shape"),
    ("inputs", 0, "shape", 0),
    ("inputs", 0, "shape", 2),
    ("inputs", 0, "data"),
    ("inputs", 0, "data", 0),
    ("inputs", 0, "data", 63),
    ("inputs", 0, "parameters"),
    ("id",),
    ("parameters",),
    ("outputs",),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=JSON_VALUES, rows=st.integers(1, 3))
def test_any_one_changed_value_gets_the_answer_of_the_general_checks(digits, path, value, rows):
    payload: Any = copy.deepcopy(request(rows))
    if not path:
        payload = value
    else:
        container = payload
        for key in path[:-1]:
            container = container[key]
        container[path[-1]] = value
    # The standard library writes integers of any size (orjson stops at 64 bits).
    assert_same(json.dumps(payload).encode(), digits)
