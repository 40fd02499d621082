"""train's ONNX conversion, verified by export without TensorFlow; used only when it is of the
model file and test split at hand; a model that does not convert fails export naming the layer."""

from __future__ import annotations

import json
import logging
import os
import sys

import keras
import numpy as np
import pytest

from ml import conversion
from ml.config import ExportParams, TrainParams
from ml.errors import UserError
from ml.export import export
from ml.onnx_model import read_metadata
from tests.helpers import run
from tests.ml.test_export import fit_and_save
from tests.paths import REPO_ROOT


@pytest.fixture(scope="module")
def converted(prepared_digits, tmp_path_factory):
    """A saved digits model and train's conversion of it."""
    root = tmp_path_factory.mktemp("converted")
    model_path = fit_and_save(
        prepared_digits, root / "model.keras", TrainParams(cnn={"filters": [8], "dense_units": 16})
    )
    model = keras.models.load_model(model_path)
    assert conversion.write(model, model_path, prepared_digits, root / "conversion.npz")
    return model_path, root / "conversion.npz"


def changed(conversion_path, tmp_path, outputs_plus=0.0, **record_changes):
    """A copy of the conversion with its Keras outputs shifted and record entries replaced."""
    with np.load(conversion_path) as arrays:
        contents = dict(arrays)
    contents[conversion.KERAS_OUTPUTS] = contents[conversion.KERAS_OUTPUTS] + outputs_plus
    record = json.loads(str(contents[conversion.RECORD])) | record_changes
    contents[conversion.RECORD] = np.array(json.dumps(record))
    copy = tmp_path / "changed.npz"
    np.savez(copy, **contents)
    return copy


def test_export_verifies_trains_conversion_without_importing_tensorflow(
    converted, prepared_digits, tmp_path
):
    model_path, conversion_path = converted
    onnx_path = tmp_path / "model.onnx"
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from ml.config import ExportParams\n"
        "from ml.export import export\n"
        f"report = export(Path({str(model_path)!r}), Path({str(prepared_digits)!r}), "
        f"Path({str(onnx_path)!r}), ExportParams(), 'h', None, None, "
        f"Path({str(conversion_path)!r}))\n"
        "loaded = sorted({'tensorflow', 'keras', 'tf2onnx'} & set(sys.modules))\n"
        "print(json.dumps({'loaded': loaded, 'report': report}))\n"
    )
    result = run([sys.executable, "-c", script], cwd=REPO_ROOT, env=dict(os.environ))
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["loaded"] == []
    report = printed["report"]
    assert report["verified"] and report["label_flips"] == 0
    with np.load(conversion_path) as arrays:
        assert report["test_rows"] == len(arrays[conversion.KERAS_OUTPUTS])
    # The same file, names and metadata as an export that converts the model itself.
    export(model_path, prepared_digits, tmp_path / "itself.onnx", ExportParams(), "h")
    ours, theirs = read_metadata(onnx_path), read_metadata(tmp_path / "itself.onnx")
    for key in ("input_name", "output_name", "input_shape", "output_shape", "reference"):
        assert ours[key] == theirs[key], key
    assert ours["input_name"] == "image" and ours["output_name"] == "probabilities"


def test_export_checks_onnxruntime_against_the_recorded_keras_outputs(
    converted, prepared_digits, tmp_path
):
    model_path, conversion_path = converted
    tampered = changed(conversion_path, tmp_path, outputs_plus=1e-3)
    onnx_path = tmp_path / "model.onnx"
    with pytest.raises(UserError, match="ONNX verification failed"):
        export(model_path, prepared_digits, onnx_path, ExportParams(), "h", None, None, tampered)
    assert not onnx_path.exists()


@pytest.mark.parametrize("key", ["model_sha256", "test_sha256"])
def test_a_conversion_of_another_model_or_split_is_not_used(
    converted, prepared_digits, tmp_path, key, caplog
):
    caplog.set_level(logging.INFO, logger="ml.conversion")
    model_path, conversion_path = converted
    # Outputs that would fail verification: export succeeds only by converting the model itself.
    other = changed(conversion_path, tmp_path, outputs_plus=1.0, **{key: "0" * 64})
    assert conversion.read(other, model_path, prepared_digits) is None
    onnx_path = tmp_path / "model.onnx"
    report = export(model_path, prepared_digits, onnx_path, ExportParams(), "h", None, None, other)
    assert report["verified"] and report["max_abs_diff"] <= 1e-5
    assert f"is of another {key.removesuffix('_sha256')}" in caplog.text


def test_a_model_that_does_not_convert_trains_and_fails_export_naming_the_layer(
    prepared_digits, tmp_path
):
    @keras.saving.register_keras_serializable(package="test_conversion")
    class Log1pLayer(keras.layers.Layer):
        def call(self, inputs):
            return keras.ops.log1p(keras.ops.abs(inputs))

    inputs = keras.Input(shape=(8, 8, 1))
    hidden = keras.layers.Dense(4)(keras.layers.Flatten()(inputs))
    squashed = Log1pLayer(name="squash")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(squashed))
    model_path = tmp_path / "model.keras"
    model.save(model_path)

    npz = tmp_path / "c.npz"
    assert not conversion.write(model, model_path, prepared_digits, npz)
    with np.load(npz) as arrays:
        assert arrays[conversion.ONNX].size == 0
        assert "Log1p" in json.loads(str(arrays[conversion.RECORD]))["error"]
    assert conversion.read(npz, model_path, prepared_digits) is None
    onnx_path = tmp_path / "model.onnx"
    failed = r"ONNX export failed at layer 'squash' \(Log1pLayer\)"
    with pytest.raises(UserError, match=failed):
        export(model_path, prepared_digits, onnx_path, ExportParams(), "h", None, None, npz)
    assert not onnx_path.exists()


def test_an_unreadable_conversion_is_ignored_with_a_warning(
    converted, prepared_digits, tmp_path, caplog
):
    model_path, _ = converted
    garbage = tmp_path / "conversion.npz"
    garbage.write_bytes(b"not an npz file")
    assert conversion.read(garbage, model_path, prepared_digits) is None
    assert f"Ignoring the conversion {garbage}" in caplog.text
    assert conversion.read(tmp_path / "missing.npz", model_path, prepared_digits) is None
