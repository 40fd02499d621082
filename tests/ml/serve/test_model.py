"""Loading a model: metadata through onnxruntime, a content-addressed version, and a verification
that refuses files the service could not serve."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import onnx
import pytest

from ml.data.images import Preprocessing
from ml.serve.model import ModelLoadError, load, session_options
from tests.serving import write_linear_onnx


def test_loads_metadata_and_version(digits_onnx):
    model = load(digits_onnx)
    assert model.sha256 == hashlib.sha256(digits_onnx.read_bytes()).hexdigest()
    assert model.version == model.sha256[:12]
    assert (model.input_name, model.output_name) == ("image", "probabilities")
    assert model.row_shape == (8, 8, 1) and model.row_size == 64
    assert model.class_labels == [str(d) for d in range(10)]
    assert model.encoding is None  # an image model takes no named features
    assert len(model.metadata["reference"]["columns"]) == 64
    assert len(model.metadata["examples"]["inputs"]) == 32


def test_session_options_are_deliberate():
    options = session_options(threads=3)
    assert options.intra_op_num_threads == 3
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ModelLoadError, match="cannot read the model file"):
        load(tmp_path / "absent.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError, match="onnxruntime cannot load it"):
        load(corrupt)


def test_a_model_without_runwright_metadata_is_refused(tmp_path):
    dataset = {"input_kind": "image", "input_shape": [8, 8, 1], "task": "classification"}
    dataset["class_labels"] = ["a", "b"]
    path = tmp_path / "bare.onnx"
    write_linear_onnx(path, dataset, np.zeros((64, 2)), np.zeros(2))
    with pytest.raises(ModelLoadError, match="metadata lacks task, input_name"):
        load(path)


def with_metadata(source, target, **changes):
    model = onnx.load(str(source))
    for entry in model.metadata_props:
        key = entry.key.removeprefix("runwright.")
        if key in changes:
            entry.value = changes[key]
    onnx.save(model, str(target))
    return target


def test_metadata_that_contradicts_the_graph_is_refused(digits_onnx, tmp_path):
    wrong_shape = with_metadata(digits_onnx, tmp_path / "a.onnx", input_shape='["batch", 64]')
    with pytest.raises(ModelLoadError, match=r"graph input shape .* does not match"):
        load(wrong_shape)
    wrong_name = with_metadata(digits_onnx, tmp_path / "b.onnx", input_name='"pixels"')
    with pytest.raises(ModelLoadError, match="differ from the metadata's input_name 'pixels'"):
        load(wrong_name)
    not_json = with_metadata(digits_onnx, tmp_path / "c.onnx", task="{")
    with pytest.raises(ModelLoadError, match="metadata value is not JSON"):
        load(not_json)
    not_text = with_metadata(digits_onnx, tmp_path / "d.onnx", task="1", output_name="null")
    with pytest.raises(ModelLoadError, match="metadata task, output_name must be text"):
        load(not_text)


def test_a_model_answering_nan_is_refused(digits_onnx, tmp_path):
    model = onnx.load(str(digits_onnx))
    for initializer in model.graph.initializer:
        if initializer.name == "bias":
            values = onnx.numpy_helper.to_array(initializer).copy()
            values[:] = np.nan
            initializer.CopyFrom(onnx.numpy_helper.from_array(values, "bias"))
    onnx.save(model, str(tmp_path / "nan.onnx"))
    with pytest.raises(ModelLoadError, match="returns NaN or infinity for a probe batch"):
        load(tmp_path / "nan.onnx")


def test_an_image_models_decoding_rule_must_make_its_input(image_onnx, tmp_path):
    model = load(image_onnx)
    assert model.preprocessing == Preprocessing((16, 16), "rgb")
    gray = '{"size": [16, 16], "color_mode": "grayscale"}'
    wrong_mode = with_metadata(image_onnx, tmp_path / "a.onnx", preprocessing=gray)
    with pytest.raises(ModelLoadError, match=r"makes images of shape \[16, 16, 1\], but"):
        load(wrong_mode)
    unknown = '{"size": [16, 16], "color_mode": "cmyk"}'
    broken = with_metadata(image_onnx, tmp_path / "b.onnx", preprocessing=unknown)
    with pytest.raises(ModelLoadError, match=r"preprocessing .* is not a decoding rule"):
        load(broken)


def test_predict_answers_as_the_public_session_api(digits_onnx):
    """predict calls the session's binding directly; the numbers are the public run's."""
    model = load(digits_onnx)
    rows = np.asarray(model.metadata["examples"]["inputs"], dtype=np.float32)
    expected = model.session.run([model.output_name], {model.input_name: rows})[0]
    np.testing.assert_array_equal(model.predict(rows), expected)
    # An onnxruntime without the private binding: the public method answers.
    bare = dataclasses.replace(model, session=PublicOnly(model.session))
    np.testing.assert_array_equal(bare.predict(rows), expected)


class PublicOnly:
    """A session exposing only onnxruntime's public run method."""

    def __init__(self, session) -> None:
        self.run = session.run
