"""Response bodies of OIP v2 and KServe v1 built from real model outputs: a classifier's
probabilities and labels, a regressor's values, the outputs a request selects. (The same bodies
over HTTP, from the running service, are in test_app.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from ml.serve.model import load
from ml.serve.protocol import (
    model_metadata,
    output_names,
    requested_outputs,
    v1_response,
    v2_response,
)
from ml.serve.validation import RequestError


@pytest.fixture(scope="module")
def digits(digits_onnx):
    return load(digits_onnx)


@pytest.fixture(scope="module")
def diabetes(regression_onnx):
    return load(regression_onnx)


@pytest.fixture(scope="module")
def people(tabular_onnx):
    return load(tabular_onnx)


def test_a_classifier_answers_probabilities_and_labels_a_regressor_values(digits, diabetes):
    assert output_names(digits) == ["probabilities", "label"]
    assert output_names(diabetes) == ["prediction"]


def test_regression_metadata_has_one_output_and_no_labels(diabetes):
    metadata = model_metadata(diabetes, "diabetes")
    assert metadata["versions"] == [diabetes.version]
    assert metadata["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, 10]}]
    assert metadata["outputs"] == [{"name": "prediction", "datatype": "FP32", "shape": [-1, 1]}]
    parameters = metadata["parameters"]
    assert parameters["task"] == "regression" and parameters["target"] == "progression"
    assert parameters["class_labels"] is None
    # All numeric: each named feature is one input column.
    assert parameters["named_features"] == parameters["feature_names"]
    assert parameters["named_features"][:3] == ["age", "sex", "bmi"]


def test_tabular_metadata_lists_the_named_features(people, digits):
    parameters = model_metadata(people, "people")["parameters"]
    assert parameters["named_features"] == ["age", "income", "city"]
    assert len(parameters["feature_names"]) == 5  # age, income and the one-hot city columns
    assert model_metadata(digits, "digits")["parameters"]["named_features"] is None  # pixels


def test_requested_outputs_default_to_all_and_keep_the_order_asked(digits):
    assert requested_outputs({}, digits) == ["probabilities", "label"]
    wanted = {"outputs": [{"name": "label"}, {"name": "probabilities"}]}
    assert requested_outputs(wanted, digits) == ["label", "probabilities"]


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        ("label", "'outputs' must be a list of objects with a 'name'"),
        ([{"name": 1}], "'outputs' must be a list of objects with a 'name'"),
        (["label"], "'outputs' must be a list of objects with a 'name'"),
        (
            [{"name": "label"}, {"name": "logits"}],
            "unknown outputs ['logits']; this model has probabilities, label",
        ),
        (
            [{"name": "label"}, {"name": "label", "parameters": 1}],
            "outputs[1].parameters must be an object, got a number",
        ),
    ],
)
def test_malformed_or_unknown_outputs_are_400(digits, outputs, message):
    with pytest.raises(RequestError) as caught:
        requested_outputs({"outputs": outputs}, digits)
    assert (caught.value.status, caught.value.message) == (400, message)


def test_v2_labels_are_the_most_probable_class(digits):
    result = np.asarray([[0.1] * 9 + [0.1], [0.0] * 3 + [0.9] + [0.01] * 6], dtype=np.float32)
    result[0, 7] = 0.5
    body = v2_response(digits, "digits", result, "req-9", ["label", "probabilities"])
    assert body["model_name"] == "digits" and body["model_version"] == digits.version
    assert body["id"] == "req-9"
    label, probabilities = body["outputs"]
    assert label == {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["7", "3"]}
    assert probabilities["shape"] == [2, 10] and probabilities["data"] is result


def test_v2_echoes_only_a_text_id(digits):
    result = np.zeros((1, 10), dtype=np.float32)
    assert "id" not in v2_response(digits, "digits", result, 42, ["label"])
    assert "id" not in v2_response(digits, "digits", result, None, ["label"])


def test_v1_classifier_predictions_pair_each_label_with_its_probabilities(digits):
    result = np.eye(10, dtype=np.float32)[[2, 5]]
    first, second = v1_response(digits, result)["predictions"]
    assert first["label"] == "2" and second["label"] == "5"
    assert first["probabilities"] == {str(d): float(d == 2) for d in range(10)}


def test_v1_regression_predictions_are_the_values(diabetes):
    result = np.asarray([[151.5], [80.25]], dtype=np.float32)
    predictions = v1_response(diabetes, result)["predictions"]
    np.testing.assert_array_equal(predictions, [151.5, 80.25])
    assert predictions.flags["C_CONTIGUOUS"]  # orjson serialises only contiguous arrays
