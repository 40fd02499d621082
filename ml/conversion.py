"""The ONNX conversion of a trained model, done where the model already is in memory: by train.

Converting needs TensorFlow, whose start-up alone costs more than the conversion and the check of
a small model. train has the model in memory, so it converts it and runs Keras on the test split
too, and writes both (models/conversion.npz): export then checks onnxruntime against these Keras
outputs on every test row without importing TensorFlow. The record names the digests of the
model file and the test split it was made from; export uses it only when both still match (an
`ml export` of another model, or of other data, converts that model itself).

A model that does not convert is recorded as such, not raised: training succeeded, and export,
converting it again, fails naming the layer to blame (ml.export_diagnosis).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.io import atomic_path, load_split, read_json, split_file

log = logging.getLogger(__name__)

# The arrays of the .npz file (one file: DVC checks a file faster than a directory).
RECORD = "record"  # JSON: the digests it was made from, the tensor names, the exporter's error
ONNX = "onnx"  # the bytes of the ONNX file Keras' exporter wrote: export adds names and metadata
KERAS_OUTPUTS = "keras_outputs"  # the Keras model's output on every test row, in order
PARITY_BATCH = 256  # test rows per Keras (and onnxruntime) call


@dataclass(frozen=True)
class Conversion:
    """A conversion that matches the model file and test split at hand."""

    onnx: bytes
    keras_outputs: np.ndarray  # the Keras model's output on every test row, in order
    input_name: str
    output_name: str


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def in_batches(x, size: int = PARITY_BATCH):
    """`x` in order, `size` rows at a time: an image folder's test images are decoded a batch at
    a time, never all at once."""
    for start in range(0, len(x), size):
        yield x[start : start + size]


def keras_outputs(model, x) -> np.ndarray:
    """The Keras model's output on every row of `x`."""
    model.predict(x[:1], verbose=0)  # a model loaded from .keras is traced by its first call
    return np.concatenate([model.predict(rows, verbose=0) for rows in in_batches(x)])


def tensor_names(model, task: str) -> tuple[str, str]:
    """(input name, output name) of the ONNX model: the Keras input's, and the kit's name for the
    task's output."""
    from ml import models

    output = models.CLASSIFIER_OUTPUT if task == "classification" else models.REGRESSOR_OUTPUT
    return model.inputs[0].name, output


def write(model, model_path: Path, data_dir: Path, out_path: Path) -> bool:
    """Convert `model` (saved at `model_path`) and record Keras' outputs on the test split of
    `data_dir` in `out_path` (.npz); True when it converted."""
    from ml.export_diagnosis import export_checked

    dataset = read_json(data_dir / "dataset.json")
    x_test, _ = load_split(data_dir, "test")
    input_name, output_name = tensor_names(model, dataset["task"])
    record: dict = {
        "model_sha256": digest(model_path),
        "test_sha256": digest(split_file(data_dir, "test")),
        "input_name": input_name,
        "output_name": output_name,
        "error": None,
    }
    outputs = keras_outputs(model, x_test)
    onnx = b""
    with tempfile.TemporaryDirectory(prefix="runwright-conversion-") as tmp:
        try:
            export_checked(model, Path(tmp) / "model.onnx")
            onnx = (Path(tmp) / "model.onnx").read_bytes()
        except Exception as exc:  # the exporter raises anything; export names the layer
            record["error"] = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("The model does not convert to ONNX; export will say which layer fails")
    with atomic_path(out_path) as tmp_path, tmp_path.open("wb") as handle:
        arrays = {
            RECORD: np.array(json.dumps(record)),
            ONNX: np.frombuffer(onnx, dtype=np.uint8),
            KERAS_OUTPUTS: outputs,
        }
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    return record["error"] is None


def read(conversion_path: Path | None, model_path: Path, data_dir: Path) -> Conversion | None:
    """The conversion in `conversion_path` when it converted this model file for this test
    split; None otherwise (no conversion, a failed one, or one of another model or split)."""
    if conversion_path is None or not conversion_path.is_file():
        return None
    try:
        with np.load(conversion_path) as arrays:
            record = json.loads(str(arrays[RECORD]))
            onnx = arrays[ONNX].tobytes()
            outputs = arrays[KERAS_OUTPUTS]
    except (OSError, ValueError, KeyError) as exc:  # not a conversion .npz
        log.warning("Ignoring the conversion %s: %s", conversion_path, exc)
        return None
    if record.get("error"):
        return None
    current = {
        "model_sha256": digest(model_path),
        "test_sha256": digest(split_file(data_dir, "test")),
    }
    stale = [key for key, value in current.items() if record.get(key) != value]
    if stale:
        log.info(
            "The conversion %s is of another %s: converting %s",
            conversion_path,
            " and ".join(key.removesuffix("_sha256") for key in stale),
            model_path,
        )
        return None
    return Conversion(
        onnx=onnx,
        keras_outputs=outputs,
        input_name=str(record["input_name"]),
        output_name=str(record["output_name"]),
    )
