"""ONNX export through Keras' exporter, verified with onnxruntime; failures leave nothing."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from ml import export as export_module
from ml.config import ExportParams, PrepareParams, TrainParams
from ml.errors import UserError
from ml.io import load_split, read_json
from ml.models import build_model
from ml.onnx_model import read_metadata
from ml.prepare import prepare


def fit_and_save(prepared, path, params: TrainParams):
    dataset = read_json(prepared / "dataset.json")
    x, y = load_split(prepared, "train")
    model = build_model(params, dataset, x, y)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    model.save(path)
    return path


@pytest.fixture(scope="module")
def digits_model(prepared_digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    return fit_and_save(
        prepared_digits, path, TrainParams(cnn={"filters": [8], "dense_units": 16})
    )


def test_export_writes_a_verified_onnx_model_with_metadata(
    prepared_digits, digits_model, tmp_path
):
    onnx_path = tmp_path / "model.onnx"
    report = export_module.export(
        digits_model, prepared_digits, onnx_path, ExportParams(), "abc123"
    )
    assert report["verified"] and report["label_flips"] == 0
    assert report["max_abs_diff"] <= 1e-5
    assert report["test_rows"] == len(load_split(prepared_digits, "test")[1])
    assert report["size_bytes"] == onnx_path.stat().st_size
    assert report["latency"]["single_row_p50_ms"] > 0

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (model_input,), (model_output,) = session.get_inputs(), session.get_outputs()
    assert (model_input.name, model_input.shape) == ("image", ["batch", 8, 8, 1])
    assert (model_output.name, model_output.shape) == ("probabilities", ["batch", 10])
    for batch in (1, 7, 1024):
        rows = np.zeros((batch, 8, 8, 1), dtype=np.float32)
        assert session.run(None, {"image": rows})[0].shape == (batch, 10)
    metadata = read_metadata(onnx_path)
    assert metadata["params_hash"] == "abc123"
    assert metadata["task"] == "classification"
    assert metadata["class_labels"] == [str(d) for d in range(10)]
    assert metadata["feature_names"][:2] == ["pixel_0_0", "pixel_0_1"]
    # What the drift monitor and the deploy smoke test compare against travels with the model.
    columns = metadata["reference"]["columns"]
    assert [c["name"] for c in columns] == metadata["feature_names"]
    assert metadata["reference"]["rows"] == len(load_split(prepared_digits, "train")[1])
    x_test, y_test = load_split(prepared_digits, "test")
    np.testing.assert_array_equal(
        np.asarray(metadata["examples"]["inputs"], dtype=np.float32), x_test[:32]
    )
    assert metadata["examples"]["targets"] == [str(label) for label in y_test[:32]]
    assert not list(tmp_path.glob(".*tmp*"))


def test_failed_verification_leaves_no_model_behind(
    prepared_digits, digits_model, tmp_path, monkeypatch
):
    onnx_path = tmp_path / "model.onnx"
    onnx_path.write_bytes(b"stale model from an earlier run")
    real_verify = export_module.verify

    def verify_against_shifted_keras(path, x_test, expected, task, settings):
        return real_verify(path, x_test, expected + 1e-3, task, settings)

    monkeypatch.setattr(export_module, "verify", verify_against_shifted_keras)
    expected_message = r"ONNX verification failed: max \|onnx - keras\| / max\(1, \|keras\|\)"
    with pytest.raises(UserError, match=expected_message):
        export_module.export(digits_model, prepared_digits, onnx_path, ExportParams(), "x")
    assert not onnx_path.exists()
    assert list(tmp_path.iterdir()) == []


def test_verify_counts_label_flips(prepared_digits, digits_model, tmp_path):
    onnx_path = tmp_path / "model.onnx"
    export_module.export(digits_model, prepared_digits, onnx_path, ExportParams(), "x")
    x_test, _ = load_split(prepared_digits, "test")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"image": x_test})[0]
    flipped = expected[:, ::-1].copy()  # reversed class order: every argmax moves
    settings = ExportParams(tolerance=1e-2)
    with pytest.raises(UserError, match="test rows change their predicted class"):
        export_module.verify(onnx_path, x_test, flipped, "classification", settings)


def test_regression_export_carries_target_and_single_output(tmp_path):
    prepared = tmp_path / "prepared"
    prepare(PrepareParams(source={"bundled": "diabetes"}), prepared)
    model_path = fit_and_save(prepared, tmp_path / "model.keras", TrainParams(model="mlp"))
    onnx_path = tmp_path / "model.onnx"
    report = export_module.export(model_path, prepared, onnx_path, ExportParams(), "r")
    assert report["label_flips"] == 0 and report["max_scaled_diff"] <= 1e-5
    metadata = read_metadata(onnx_path)
    assert metadata["task"] == "regression"
    assert metadata["output_name"] == "prediction"
    assert metadata["output_shape"] == ["batch", 1]
    assert metadata["target"] == "progression"
    assert metadata["input_shape"] == ["batch", 10]
    assert metadata["class_labels"] is None


@pytest.mark.parametrize("size", [16, 160])
def test_an_image_folders_metadata_stays_small_for_large_images(tmp_path, size):
    """The model file carries summaries of the training images as its drift reference and
    names no pixels, so its metadata does not grow with the image size; its examples are the
    test images as PNG, bounded in bytes."""
    import base64
    import json

    from ml import reference
    from ml.data.images import Preprocessing, decode
    from tests.image_folders import write_image_folder

    prepared = tmp_path / "prepared"
    root = write_image_folder(tmp_path / "shapes", per_class=10)
    image = {"size": [size, size], "color_mode": "rgb"}
    prepare(PrepareParams(source={"images": str(root)}, image=image), prepared)
    dataset = read_json(prepared / "dataset.json")
    settings = TrainParams(cnn={"filters": [4, 4, 4, 4], "dense_units": 8})
    model = build_model(settings, dataset, *load_split(prepared, "train"))
    model.save(
        tmp_path / "model.keras"
    )  # untrained: export checks ONNX against Keras all the same
    onnx_path = tmp_path / "model.onnx"
    report = export_module.export(
        tmp_path / "model.keras", prepared, onnx_path, ExportParams(), "img"
    )
    assert report["verified"]
    metadata = read_metadata(onnx_path)
    stats = metadata["reference"]
    assert stats["kind"] == reference.IMAGE_SUMMARY and stats["input_shape"] == [size, size, 3]
    assert stats["rows"] == dataset["rows"]["train"]
    assert len(stats["columns"]) == 37 and metadata["feature_names"] is None
    # The held-out test images, whatever their size, as PNG that decode to the very rows the
    # model saw in evaluation, with their classes; bounded in bytes.
    examples = metadata["examples"]
    x_test, y_test = load_split(prepared, "test")
    assert len(examples["images"]) == dataset["rows"]["test"] == 5  # all fit (32 at most)
    assert examples["targets"] == [dataset["class_labels"][code] for code in y_test]
    assert sum(map(len, examples["images"])) <= reference.EXAMPLE_BYTES
    rule = Preprocessing.from_dataset(dataset)
    shown = np.stack([decode(base64.b64decode(text), rule) for text in examples["images"]])
    np.testing.assert_array_equal(shown, x_test[:])
    without_examples = {key: value for key, value in metadata.items() if key != "examples"}
    assert len(json.dumps(without_examples)) < 16_384
