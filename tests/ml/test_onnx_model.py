"""Post-processing of an exported ONNX graph: the output renamed everywhere it is used, the batch
dimension named, runwright's metadata replaced and read back. (Export itself, with a real Keras
model, is in test_export.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from ml.onnx_model import METADATA_PREFIX, finalize, read_metadata


def exported_like(path: Path) -> Path:
    """A graph shaped as an exporter leaves it: a generated output name that a second node also
    reads, a generated batch dimension, and stale metadata of its own."""
    nodes = [
        helper.make_node("Relu", ["x"], ["StatefulPartitionedCall:0"]),
        helper.make_node("Identity", ["StatefulPartitionedCall:0"], ["copy"]),
    ]
    graph = helper.make_graph(
        nodes,
        "exported",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["unk__41", 3])],
        [
            helper.make_tensor_value_info(
                "StatefulPartitionedCall:0", TensorProto.FLOAT, ["unk__42", 3]
            ),
            helper.make_tensor_value_info("copy", TensorProto.FLOAT, ["unk__43", 3]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # readable by the onnxruntime in the lock
    helper.set_model_props(model, {f"{METADATA_PREFIX}task": '"stale"', "producer": "keras"})
    onnx.save(model, str(path))
    return path


def test_finalize_renames_the_output_everywhere_and_names_the_batch(tmp_path: Path) -> None:
    path = exported_like(tmp_path / "model.onnx")
    finalize(path, "prediction", {"task": "regression"})
    graph = onnx.load(str(path)).graph
    assert graph.output[0].name == "prediction"
    assert [list(node.output) for node in graph.node] == [["prediction"], ["copy"]]
    assert list(graph.node[1].input) == ["prediction"]
    for value in (graph.input[0], graph.output[0]):
        assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (result, copy) = session.run(None, {"x": np.array([[-1, 0, 2]] * 4, dtype=np.float32)})
    np.testing.assert_array_equal(result, [[0, 0, 2]] * 4)
    np.testing.assert_array_equal(copy, result)


def test_metadata_is_replaced_and_read_back_as_json(tmp_path: Path) -> None:
    path = exported_like(tmp_path / "model.onnx")
    metadata = {"task": "classification", "class_labels": ["a", "b"], "git_commit": None}
    finalize(path, "probabilities", metadata)
    model = onnx.load(str(path))
    assert model.doc_string == "classification model exported by runwright"
    assert {prop.key for prop in model.metadata_props} == {
        "runwright.task",
        "runwright.class_labels",
        "runwright.git_commit",
    }
    assert read_metadata(path) == metadata


def test_read_metadata_ignores_other_producers_keys(tmp_path: Path) -> None:
    path = exported_like(tmp_path / "model.onnx")
    assert read_metadata(path) == {"task": "stale"}  # "producer" is not ours
