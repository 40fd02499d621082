"""Helpers for the serving, deploy and monitor tests: real ONNX models without TensorFlow, and the
real service started as a subprocess on a loopback port.

The models are scikit-learn linear models fitted on data made by the real `prepare` stage, written
as ONNX graphs (MatMul, Add, Softmax) with the metadata `ml export` writes. They load in
milliseconds and classify digits at about 95 %, so tests can check real predictions.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

from ml import onnx_model, reference
from ml.io import load_split, read_json
from ml.serve.validation import RequestError
from tests.paths import REPO_ROOT


def linear_model(prepared: Path, path: Path, *, weight_scale: float = 1.0) -> Path:
    """Fit a linear model on a prepared split and write it as ONNX with export's metadata.
    weight_scale=0 gives a model that predicts the same class for every row (a bad model)."""
    dataset = read_json(prepared / "dataset.json")
    x_train, y_train = decoded_split(prepared, "train")
    weights, bias = ridge_fit(x_train.reshape(len(x_train), -1), y_train, dataset)
    write_linear_onnx(path, dataset, weights * weight_scale, bias * weight_scale)
    x_test, y_test = decoded_split(prepared, "test")
    onnx_model.finalize(path, output_name(dataset), metadata(dataset, x_train, x_test, y_test))
    return path


def decoded_split(prepared: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """A prepared split as arrays: an image folder's files decoded (ml.data.images)."""
    x, y = load_split(prepared, split)
    return np.asarray(x[:]), y


def ridge_fit(x: np.ndarray, y: np.ndarray, dataset: dict) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form ridge regression (milliseconds, no solver iterations); for a classifier on
    one-hot targets, with scores scaled so the softmax is confident."""
    classification = dataset["task"] == "classification"
    targets = np.eye(len(dataset["class_labels"]))[y] if classification else y.reshape(-1, 1)
    design = np.hstack([x, np.ones((len(x), 1))]).astype(np.float64)
    gram = design.T @ design + 1e-2 * np.eye(design.shape[1])
    solution = np.linalg.solve(gram, design.T @ targets)
    scale = 10.0 if classification else 1.0
    return solution[:-1] * scale, solution[-1] * scale


def output_name(dataset: dict) -> str:
    return "probabilities" if dataset["task"] == "classification" else "prediction"


def write_linear_onnx(path: Path, dataset: dict, weights: np.ndarray, bias: np.ndarray) -> None:
    input_name = "image" if dataset["input_kind"] == "image" else "features"
    row_shape = dataset["input_shape"]
    nodes = [
        helper.make_node("Reshape", [input_name, "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weights"], ["scores"]),
        helper.make_node("Add", ["scores", "bias"], ["logits"]),
    ]
    if dataset["task"] == "classification":
        nodes.append(helper.make_node("Softmax", ["logits"], [output_name(dataset)], axis=1))
    else:
        nodes.append(helper.make_node("Identity", ["logits"], [output_name(dataset)]))
    initializers = [
        numpy_helper.from_array(np.array([-1, weights.shape[0]], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(weights.astype(np.float32), "weights"),
        numpy_helper.from_array(bias.astype(np.float32), "bias"),
    ]
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", *row_shape])],
        [
            helper.make_tensor_value_info(
                output_name(dataset), TensorProto.FLOAT, ["batch", weights.shape[1]]
            )
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # readable by the onnxruntime in the lock
    onnx.save(model, str(path))


def metadata(dataset: dict, x_train, x_test, y_test) -> dict:
    """What ml.export.build_metadata writes, plus the reference statistics and examples (an
    image model's as PNG, as export keeps them)."""
    classification = dataset["task"] == "classification"
    saved = reference.describe(
        x_train, x_test, y_test, dataset["feature_names"], dataset["class_labels"]
    )
    if dataset["input_kind"] == "image" and dataset.get("preprocessing"):
        saved["examples"] = reference.image_examples(x_test, y_test, dataset["class_labels"])
    width = len(dataset["class_labels"]) if classification else 1
    return {
        "task": dataset["task"],
        "input_kind": dataset["input_kind"],
        "input_name": "image" if dataset["input_kind"] == "image" else "features",
        "input_shape": ["batch", *dataset["input_shape"]],
        "output_name": output_name(dataset),
        "output_shape": ["batch", width],
        "class_labels": dataset["class_labels"],
        "target": dataset["target"],
        "feature_names": dataset["feature_names"],
        "encoding": dataset["encoding"],
        "preprocessing": dataset.get("preprocessing"),
        "params_hash": "0" * 16,
        "git_commit": None,
        "versions": {},
    } | saved


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_serve_params(path: Path, **serve: object) -> Path:
    path.write_text(yaml.safe_dump({"serve": {"model_name": "digits"} | serve}))
    return path


def wait_ready(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the service exited with {process.returncode} while starting")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready within {timeout} s")


@contextlib.contextmanager
def running_service(
    model: Path, params: Path, log: Path, *extra: str, workers: int = 1
) -> Iterator[str]:
    """`python -m ml.serve` on a free loopback port; yields its base URL, stops it after."""
    port = free_port()
    command = [sys.executable, "-m", "ml.serve", "--model", str(model), "--params", str(params)]
    command += ["--port", str(port), "--workers", str(workers), *extra]
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process=process)
        yield url
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen, timeout: float = 15.0) -> int:
    """SIGTERM to the process group (uvicorn's parent and workers), SIGKILL if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def rejected(call, *args, status=400) -> str:
    """The message of the RequestError that `call(*args)` raises, checking its HTTP status."""
    with pytest.raises(RequestError) as caught:
        call(*args)
    assert caught.value.status == status
    return caught.value.message
