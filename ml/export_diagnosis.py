"""Export to ONNX, and when that fails, which layer is to blame: each layer is exported on its
own, the first that fails is named. The exporter does not always raise: for a TensorFlow op it
cannot convert (log1p, say) it may write a graph that names an op ONNX lacks, so an export
counts only once the ONNX checker and onnxruntime accept the file."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def failing_layer(model) -> tuple[str, str, str] | None:
    """(layer name, class name, the exporter's error) of the first layer that fails alone, or
    None when every layer exports alone (the failure is in how they are joined)."""
    import keras

    with tempfile.TemporaryDirectory(prefix="runwright-export-") as tmp:
        for index, layer in enumerate(model.layers):
            if isinstance(layer, keras.layers.InputLayer) or (
                not layer.weights and is_keras(layer)
            ):
                continue  # weightless built-in layers (reshapes, activations) export
            try:
                shape = tuple(layer.input.shape[1:])
                inputs = keras.Input(shape=shape, dtype=layer.input.dtype)
                alone = keras.Model(inputs, layer(inputs))
                alone.predict(keras.ops.zeros((1, *shape)), verbose=0)
                export_checked(alone, Path(tmp) / f"{index}.onnx")
            except Exception as exc:  # the exporter raises anything from any converter
                return layer.name, type(layer).__name__, first_line(exc)
    return None


def export_checked(model, path: Path) -> None:
    """Keras' exporter, then the ONNX checker and an onnxruntime session on the file."""
    import onnx
    import onnxruntime as ort

    model.export(str(path), format="onnx", verbose=False)
    onnx.checker.check_model(str(path))
    ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def is_keras(layer) -> bool:
    return type(layer).__module__.startswith("keras.")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
