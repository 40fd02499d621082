"""Request checks, unit by unit: every malformed input becomes a RequestError with a 4xx status
and a message naming the field."""

from __future__ import annotations

import numpy as np
import pytest

from ml.serve.model import load
from ml.serve.validation import numbers, parse_json, v1_rows, v2_rows
from tests.serving import rejected


@pytest.fixture(scope="module")
def digits(digits_onnx):
    return load(digits_onnx)


def tensor(shape, data, name="image", datatype="FP32"):
    return {"inputs": [{"name": name, "shape": shape, "datatype": datatype, "data": data}]}


def test_numbers_refuse_what_numpy_would_coerce():
    assert numbers([[1, 2.5]], "x").dtype == np.float32
    assert "contains text" in rejected(numbers, ["1.5", 2], "x")
    assert "contains true/false" in rejected(numbers, [True, False], "x")
    assert "null, objects or mixed types" in rejected(numbers, [1, None], "x")
    assert "ragged" in rejected(numbers, [[1, 2], [3]], "x")
    assert "must be a list of numbers, got text" in rejected(numbers, "1,2", "x")
    assert "contains fractions" in rejected(numbers, [1.5], "x", True)


def test_invalid_json_is_400():
    assert rejected(parse_json, b'{"instances": [').startswith("the body is not valid JSON")
    assert rejected(parse_json, b'{"x": NaN}').startswith("the body is not valid JSON")


def test_v2_shape_name_datatype_and_count(digits):
    row = [0.0] * 64
    assert v2_rows(tensor([1, 8, 8, 1], row), digits, 8).shape == (1, 8, 8, 1)
    message = rejected(v2_rows, tensor([1, 64], row), digits, 8)
    assert message == "inputs[0].shape [1, 64] does not match the model's [batch, 8, 8, 1]"
    assert "inputs[0].name must be 'image'" in rejected(
        v2_rows, tensor([1, 8, 8, 1], row, "x"), digits, 8
    )
    assert "'BYTES' is not numeric" in rejected(
        v2_rows, tensor([1, 8, 8, 1], row, datatype="BYTES"), digits, 8
    )
    assert "['FP32'] is not numeric" in rejected(  # unhashable: once a 500
        v2_rows, tensor([1, 8, 8, 1], row, datatype=["FP32"]), digits, 8
    )
    assert "holds 63 numbers but shape [1, 8, 8, 1] needs 64" in rejected(
        v2_rows, tensor([1, 8, 8, 1], row[:63]), digits, 8
    )
    assert "list of one tensor" in rejected(v2_rows, {"inputs": []}, digits, 8)
    assert "JSON object" in rejected(v2_rows, [1, 2], digits, 8)
    assert "list of integers" in rejected(v2_rows, tensor([1.0, 8, 8, 1], row), digits, 8)


def test_v2_batch_limits(digits):
    message = rejected(v2_rows, tensor([100_000, 8, 8, 1], [0.0]), digits, 1024, status=413)
    assert message == "inputs[0].shape[0]: 100000 rows exceed the limit of 1024 rows per request"
    assert "at least one row" in rejected(v2_rows, tensor([0, 8, 8, 1], []), digits, 8)


def test_non_finite_values_name_the_row(digits):
    rows = [[0.0] * 64, [0.0] * 63 + [1e39]]  # 1e39 overflows float32 to infinity
    message = rejected(v1_rows, {"instances": rows}, digits, 8)
    assert message == "instances: row 1 holds NaN, infinity or a number too large for float32"
    rows = [[0.0] * 64, [0.0] * 64, [float("nan")] * 64]
    assert "row 2 holds NaN" in rejected(v1_rows, {"instances": rows}, digits, 8)


# pytest resets the warning filters per test; the service's process keeps validation.py's own.
@pytest.mark.filterwarnings("ignore:overflow encountered in dot:RuntimeWarning")
def test_large_finite_values_are_accepted(digits):
    """3e38 fits float32 though its square does not: the quick check's overflow is no refusal."""
    rows = v1_rows({"instances": [[3e38] * 64, [-3e38] * 64]}, digits, 8)
    assert rows.shape == (2, 8, 8, 1) and np.isfinite(rows).all()


def test_v1_shapes(digits):
    assert v1_rows({"instances": [[0.0] * 64]}, digits, 8).shape == (1, 8, 8, 1)
    message = rejected(v1_rows, {"instances": [[0.0] * 10]}, digits, 8)
    assert "must be shaped [8, 8, 1] (or a flat list of 64 numbers); got shape [10]" in message
    assert '{"instances": [...]}' in rejected(v1_rows, {"inputs": []}, digits, 8)
    assert "named features work for tabular models only" in rejected(
        v1_rows, {"instances": [{"pixel_0_0": 1}]}, digits, 8
    )
    assert "mixes objects and lists" in rejected(v1_rows, {"instances": [{}, [1]]}, digits, 8)
    assert rejected(v1_rows, {"instances": [[0.0]] * 9}, digits, 8, status=413)


def test_v2_optional_fields_of_the_wrong_type_are_refused(digits):
    """The OpenAPI document types `id` and every `parameters`: a request it calls invalid gets
    a 400, never an answer (schemathesis' negative-data check holds the service to it)."""
    row = [0.0] * 64
    assert "'id' must be text, got a number" in rejected(
        v2_rows, tensor([1, 8, 8, 1], row) | {"id": 7}, digits, 8
    )
    assert "'parameters' must be an object, got a list" in rejected(
        v2_rows, tensor([1, 8, 8, 1], row) | {"parameters": []}, digits, 8
    )
    request = tensor([1, 8, 8, 1], row)
    request["inputs"][0]["parameters"] = "x"
    assert "inputs[0].parameters must be an object, got text" in rejected(
        v2_rows, request, digits, 8
    )
    fine = tensor([1, 8, 8, 1], row) | {"id": "a", "parameters": {"binary_data": False}}
    assert v2_rows(fine, digits, 8).shape == (1, 8, 8, 1)
