"""export: Keras -> ONNX through Keras' own exporter, verified against Keras with onnxruntime on
the whole test set before models/model.onnx is written. A model that fails is never left behind.

In the pipeline, train has already converted the model and run Keras on the test split
(ml.conversion): export checks that conversion and adds the metadata, without TensorFlow. A model
without a matching conversion is loaded and converted here.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Annotated

import numpy as np

from ml import conversion, options
from ml.config import ExportParams, load_params, model_params_hash
from ml.data.images import ImageFiles
from ml.errors import UserError
from ml.io import atomic_path, load_split, read_json, write_json
from ml.model_reference import Reference

log = logging.getLogger(__name__)

BATCH_SIZES = (1, 7, 1024)  # the dynamic batch dimension must accept all of these
# Training images of an image folder decoded for its drift reference, REFERENCE_BATCH at a time:
# only each image's summary (ml/image_summary.py) is kept, so the sample's memory does not grow
# with the image size; the count bounds the decoding time.
REFERENCE_IMAGES = 1000
REFERENCE_BATCH = 64


def export(
    model_path: Path,
    data_dir: Path,
    onnx_path: Path,
    settings: ExportParams,
    params_digest: str,
    train_metrics: Path | None = None,
    model_code: Reference | None = None,
    conversion_path: Path | None = None,
) -> dict:
    """`model_code` is the team's own model code, whose custom layers loading the model needs;
    `conversion_path` holds train's conversion of the model (ml.conversion), used when it is of
    this model file and test split: then no TensorFlow is imported here."""
    from ml import onnx_model, provenance, reference

    dataset = read_json(data_dir / "dataset.json")
    x_train, _ = load_split(data_dir, "train")
    x_test, y_test = load_split(data_dir, "test")
    converted = conversion.read(conversion_path, model_path, data_dir)
    if converted is None:
        model = keras_model(model_path, model_code)
        expected = conversion.keras_outputs(model, x_test)
        input_name, output_name = conversion.tensor_names(model, dataset["task"])
    else:
        log.info("Verifying the ONNX conversion train made of %s", model_path)
        expected = converted.keras_outputs
        input_name, output_name = converted.input_name, converted.output_name
    info = provenance.provenance()
    metadata = build_metadata(dataset, input_name, output_name, params_digest, info)
    metadata["gpu"] = training_device(train_metrics)
    # Training-input statistics and held-out examples travel inside the model file, so every
    # registered version carries what its drift monitor and smoke test compare against.
    if isinstance(x_train, ImageFiles):
        metadata |= image_folder_reference(x_train, x_test, y_test, dataset["class_labels"])
    else:
        metadata |= reference.describe(
            x_train,
            x_test[: reference.EXAMPLES],
            y_test,
            dataset["feature_names"],
            dataset["class_labels"],
        )
    onnx_path.unlink(missing_ok=True)  # a stale model must not survive a failed export
    with atomic_path(onnx_path) as tmp:
        if converted is None:
            to_onnx(model, tmp)
        else:
            tmp.write_bytes(converted.onnx)
        onnx_model.finalize(tmp, output_name=metadata["output_name"], metadata=metadata)
        report = verify(tmp, x_test, expected, dataset["task"], settings)
    report |= {"size_bytes": onnx_path.stat().st_size, "metadata": metadata}
    return report


def image_folder_reference(x_train: ImageFiles, x_test, y_test, class_labels) -> dict:
    """The `reference` and `examples` of an image folder's model, both bounded whatever the
    image size: summaries of a sample of the training images, and a few test images as PNG."""
    from ml import reference

    shape = x_train.preprocessing.input_shape
    sample = dataclasses.replace(x_train, files=x_train.files[:REFERENCE_IMAGES])
    return {
        "reference": reference.image_reference(sample.batches(REFERENCE_BATCH), shape),
        "examples": reference.image_examples(x_test, y_test, class_labels),
    }


def keras_model(model_path: Path, model_code: Reference | None):
    """The saved model, computing in float32."""
    from ml.models import float32_copy, load_model

    # `ml train` saves float32 already; a mixed-precision model from elsewhere is converted.
    return float32_copy(load_model(model_path, model_code))


def to_onnx(model, path: Path) -> None:
    """Keras' ONNX exporter; a failure names the layer that cannot be exported."""
    from ml.export_diagnosis import export_checked, failing_layer

    try:
        export_checked(model, path)
    except Exception as exc:  # the exporter raises anything from any of its converters
        culprit = failing_layer(model)
        if culprit is None:
            raise UserError(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
        name, kind, error = culprit
        raise UserError(
            f"ONNX export failed at layer {name!r} ({kind}): {error}. The service runs ONNX "
            "models: write this layer with Keras operations (keras.ops) that export"
        ) from exc


def build_metadata(
    dataset: dict, input_name: str, output_name: str, params_digest: str, info: dict
) -> dict:
    classification = dataset["task"] == "classification"
    output_width = len(dataset["class_labels"]) if classification else 1
    return {
        "task": dataset["task"],
        "input_kind": dataset["input_kind"],
        "input_name": input_name,
        "input_shape": ["batch", *dataset["input_shape"]],
        "output_name": output_name,
        "output_shape": ["batch", output_width],
        "class_labels": dataset["class_labels"],
        "target": dataset["target"],
        # An image folder's inputs are pixels: one name per pixel would only grow the metadata
        # with the image (its drift reference names its own columns).
        "feature_names": None if is_image_folder(dataset) else dataset["feature_names"],
        "encoding": dataset["encoding"],
        # An image folder's decoding rule (size, colour mode, scaling), for the service.
        "preprocessing": dataset.get("preprocessing"),
        "params_hash": params_digest,
        "git_commit": info["git_commit"],
        "versions": info["versions"],
    }


def is_image_folder(dataset: dict) -> bool:
    return dataset.get("preprocessing") is not None


def training_device(train_metrics: Path | None) -> dict | None:
    """The `gpu` record of metrics/train.json: where the model was trained."""
    if train_metrics is None or not train_metrics.is_file():
        log.warning(
            "No training metrics at %s: the ONNX metadata records no device", train_metrics
        )
        return None
    return read_json(train_metrics).get("gpu")


def verify(
    path: Path, x_test: np.ndarray, expected: np.ndarray, task: str, settings: ExportParams
) -> dict:
    """Compare onnxruntime with Keras on every test row; raise UserError on any mismatch.
    `x_test` may be an image folder's files, decoded here a batch at a time."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    for tensor in (*session.get_inputs(), *session.get_outputs()):
        if tensor.type != "tensor(float)":  # the service and its clients speak float32
            raise UserError(f"ONNX tensor {tensor.name!r} is {tensor.type}, not float32")
    actual = np.concatenate(
        [session.run(None, {input_name: rows})[0] for rows in conversion.in_batches(x_test)]
    )
    if actual.shape != expected.shape:
        raise UserError(f"ONNX output shape {actual.shape} differs from Keras' {expected.shape}")
    difference = np.abs(actual - expected)
    max_abs_diff = float(np.max(difference))
    # Relative above 1, absolute below: probabilities are held to `tolerance` exactly, while a
    # regression output of ~150 is not held to a bound below float32's own rounding (~1.5e-5).
    max_scaled_diff = float(np.max(difference / np.maximum(1.0, np.abs(expected))))
    flips = int(np.sum(actual.argmax(1) != expected.argmax(1))) if task == "classification" else 0
    sample = x_test[: max(BATCH_SIZES)]  # in memory: an image folder's first test images
    for batch in BATCH_SIZES:
        rows = np.resize(sample, (batch, *sample.shape[1:]))
        out = session.run(None, {input_name: rows})[0]
        if out.shape[0] != batch:
            raise UserError(f"ONNX model returned {out.shape[0]} rows for a batch of {batch}")
    problems = []
    if not max_scaled_diff <= settings.tolerance:  # also catches NaN
        problems.append(
            f"max |onnx - keras| / max(1, |keras|) = {max_scaled_diff:.3g} "
            f"> tolerance {settings.tolerance} (max |onnx - keras| = {max_abs_diff:.3g})"
        )
    if flips:
        problems.append(f"{flips} of {len(x_test)} test rows change their predicted class")
    if problems:
        raise UserError("ONNX verification failed: " + "; ".join(problems))
    return {
        "verified": True,
        "test_rows": len(x_test),
        "max_abs_diff": max_abs_diff,
        "max_scaled_diff": max_scaled_diff,
        "label_flips": flips,
        "batch_sizes_checked": list(BATCH_SIZES),
        "latency": measure_latency(session, input_name, sample, settings.latency_runs),
    }


def measure_latency(session, input_name: str, x_test: np.ndarray, runs: int) -> dict:
    one = x_test[:1]
    batch = np.resize(x_test, (256, *x_test.shape[1:]))
    session.run(None, {input_name: one})  # warm-up
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        session.run(None, {input_name: one})
        timings.append(time.perf_counter() - started)
    started = time.perf_counter()
    batch_runs = max(1, runs // 20)
    for _ in range(batch_runs):
        session.run(None, {input_name: batch})
    batch_seconds = (time.perf_counter() - started) / batch_runs
    return {
        "single_row_p50_ms": round(float(np.median(timings)) * 1e3, 4),
        "single_row_p99_ms": round(float(np.percentile(timings, 99)) * 1e3, 4),
        "batch_256_ms": round(batch_seconds * 1e3, 3),
    }


def main(
    params_path: options.ParamsFile = options.PARAMS,
    model: Annotated[Path, options.model_file("Keras model to export.")] = Path(
        "models/model.keras"
    ),
    data: options.PreparedData = options.PREPARED,
    out: Annotated[Path, options.out("Where to write the verified ONNX model.")] = Path(
        "models/model.onnx"
    ),
    metrics: Annotated[Path, options.metrics_file("Export report JSON.")] = Path(
        "metrics/export.json"
    ),
    train_metrics: Annotated[
        Path,
        options.train_metrics_file("Training metrics; their `gpu` record goes into the metadata."),
    ] = options.TRAIN_METRICS,
    conversion_path: options.ConversionFile = None,
) -> None:
    """Export the Keras model to ONNX and verify it against Keras on the whole test set."""
    params = load_params(params_path)
    report = export(
        model,
        data,
        out,
        params.export,
        model_params_hash(params),
        train_metrics,
        params.train.reference,
        conversion_path,
    )
    write_json(metrics, {k: v for k, v in report.items() if k != "metadata"})
    latency = report["latency"]
    log.info(
        "Exported %s (%.1f KiB): max |diff| %.2g over %d rows, %d label flips, "
        "single-row p50 %.3f ms",
        out,
        report["size_bytes"] / 1024,
        report["max_abs_diff"],
        report["test_rows"],
        report["label_flips"],
        latency["single_row_p50_ms"],
    )
