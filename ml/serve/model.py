"""One loaded model: an onnxruntime session, what the ONNX metadata says about it, its version.

Metadata is read through onnxruntime (`custom_metadata_map`), not the `onnx` package, so the
serving image needs neither `onnx` nor anything of the training stack. onnxruntime itself is
imported on first use: its import starts a thread, and `ml serve` forks its workers from a
parent that must not have run any onnxruntime code.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ml.data.images import Preprocessing
from ml.errors import UserError

if TYPE_CHECKING:
    import onnxruntime as ort

# The export stage writes metadata keys with this prefix and JSON values (ml/onnx_model.py).
METADATA_PREFIX = "runwright."
REQUIRED_KEYS = ("task", "input_name", "input_shape", "output_name", "output_shape")
TEXT_KEYS = ("task", "input_name", "output_name")


class ModelLoadError(UserError):
    """The file is not a model this service can serve; the message says why."""


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """Derived properties are cached: they are read on every request."""

    session: ort.InferenceSession
    metadata: dict
    sha256: str
    path: str

    @functools.cached_property
    def version(self) -> str:
        """Content address: the same bytes are the same version wherever they are served."""
        return self.sha256[:12]

    @functools.cached_property
    def task(self) -> str:
        return str(self.metadata["task"])  # text, checked by read_metadata

    @functools.cached_property
    def input_name(self) -> str:
        return str(self.metadata["input_name"])

    @functools.cached_property
    def output_name(self) -> str:
        return str(self.metadata["output_name"])

    @functools.cached_property
    def row_shape(self) -> tuple[int, ...]:
        """Shape of one input row, without the batch dimension."""
        return tuple(self.metadata["input_shape"][1:])

    @functools.cached_property
    def row_size(self) -> int:
        return math.prod(self.row_shape)

    @functools.cached_property
    def class_labels(self) -> list[str] | None:
        return self.metadata.get("class_labels")

    @functools.cached_property
    def encoding(self) -> dict | None:
        """How named tabular features become the input row (tabular models only)."""
        if self.metadata.get("input_kind") != "tabular":
            return None
        return self.metadata.get("encoding")

    @functools.cached_property
    def preprocessing(self) -> Preprocessing | None:
        """How an encoded image becomes the input row (models trained on image files only)."""
        if self.metadata.get("input_kind") != "image" or not self.metadata.get("preprocessing"):
            return None
        return Preprocessing.from_dataset(self.metadata)

    @functools.cached_property
    def _run(self) -> Callable[..., list[np.ndarray]]:
        # InferenceSession.run checks the input names again and wraps the call in a fallback to
        # other execution providers, on every call: about 1-2.5 us, up to a tenth of a 1-row
        # prediction. The requests are checked against input_name before they get here and the
        # CPU provider has nothing to fall back to, so the session's own binding is called
        # (the public method where an onnxruntime version lacks it).
        inner = getattr(self.session, "_sess", None)
        run: Callable[..., list[np.ndarray]] = self.session.run if inner is None else inner.run
        return run

    @functools.cached_property
    def _output_names(self) -> list[str]:
        return [self.output_name]

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self._run(self._output_names, {self.input_name: rows}, None)[0]


def session_options(threads: int) -> ort.SessionOptions:
    """Deliberate settings for several single-model workers sharing a few cores."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Each worker is one process; the cores are shared out between workers, not within one.
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle pool threads would otherwise spin for a while after each call, burning the cores
    # that the other workers (and the HTTP parsing) need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    return options


def load(path: str | Path, threads: int = 1) -> LoadedModel:
    """Read, load and verify a model file; raise ModelLoadError naming what is wrong."""
    import onnxruntime as ort

    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot read the model file: {exc}") from None
    try:
        # From the bytes that were hashed: the version always names what is being served.
        session = ort.InferenceSession(
            content, sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own types for every kind of bad file
        raise ModelLoadError(f"{path}: onnxruntime cannot load it: {exc}") from None
    metadata = read_metadata(session, path)
    model = LoadedModel(session, metadata, hashlib.sha256(content).hexdigest(), str(path))
    verify(model)
    return model


def read_metadata(session: ort.InferenceSession, path: Path) -> dict:
    raw = session.get_modelmeta().custom_metadata_map
    try:
        metadata = {
            key.removeprefix(METADATA_PREFIX): json.loads(value)
            for key, value in raw.items()
            if key.startswith(METADATA_PREFIX)
        }
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path}: metadata value is not JSON: {exc}") from None
    missing = [key for key in REQUIRED_KEYS if key not in metadata]
    if missing:
        raise ModelLoadError(
            f"{path}: metadata lacks {', '.join(missing)}; export the model with `ml export`"
        )
    not_text = [key for key in TEXT_KEYS if not isinstance(metadata[key], str)]
    if not_text:
        raise ModelLoadError(f"{path}: metadata {', '.join(not_text)} must be text")
    return metadata


def check_preprocessing(model: LoadedModel) -> None:
    """An image model's decoding rule makes rows of its input shape."""
    try:
        preprocessing = model.preprocessing
        shape = preprocessing.input_shape if preprocessing else None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(
            f"{model.path}: metadata preprocessing {model.metadata.get('preprocessing')!r} is "
            f"not a decoding rule ({type(exc).__name__}: {exc})"
        ) from None
    if shape is not None and shape != model.row_shape:
        raise ModelLoadError(
            f"{model.path}: metadata preprocessing makes images of shape {list(shape)}, but the "
            f"model takes {list(model.row_shape)}"
        )


def verify(model: LoadedModel) -> None:
    """The graph matches its metadata and answers a probe batch with finite numbers."""
    where = model.path
    inputs, outputs = model.session.get_inputs(), model.session.get_outputs()
    if [i.name for i in inputs] != [model.input_name]:
        raise ModelLoadError(
            f"{where}: graph inputs {[i.name for i in inputs]} differ from "
            f"the metadata's input_name {model.input_name!r}"
        )
    if model.output_name not in [o.name for o in outputs]:
        raise ModelLoadError(f"{where}: graph has no output named {model.output_name!r}")
    graph_row_shape = inputs[0].shape[1:]
    if len(graph_row_shape) != len(model.row_shape) or any(
        isinstance(g, int) and g != m
        for g, m in zip(graph_row_shape, model.row_shape, strict=True)
    ):
        raise ModelLoadError(
            f"{where}: graph input shape {inputs[0].shape} does not match the metadata's "
            f"{model.metadata['input_shape']}"
        )
    check_preprocessing(model)
    examples = model.metadata.get("examples", {}).get("inputs") or []
    probe = np.asarray(examples[:2], dtype=np.float32) if examples else None
    if probe is None or probe.shape[1:] != model.row_shape:
        probe = np.zeros((2, *model.row_shape), dtype=np.float32)
    try:
        result = model.predict(probe)
    except Exception as exc:
        raise ModelLoadError(f"{where}: a probe batch fails: {exc}") from None
    width = model.metadata["output_shape"][-1]
    if result.shape != (len(probe), width):
        raise ModelLoadError(
            f"{where}: probe output shape {result.shape}, expected ({len(probe)}, {width})"
        )
    if not np.all(np.isfinite(result)):
        raise ModelLoadError(f"{where}: the model returns NaN or infinity for a probe batch")
