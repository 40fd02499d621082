"""Post-process the exported ONNX graph: readable output name, named batch dimension, metadata."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

# Keys in the ONNX metadata_props carry this prefix; values are JSON.
METADATA_PREFIX = "runwright."


def finalize(path: Path, output_name: str, metadata: dict) -> None:
    model = onnx.load(str(path))
    graph = model.graph
    rename_output(graph, graph.output[0].name, output_name)
    # "batch" instead of the exporter's generated "unk__41" documents the dynamic dimension.
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key = f"{METADATA_PREFIX}{key}"
        entry.value = json.dumps(value)
    model.doc_string = f"{metadata['task']} model exported by runwright"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def rename_output(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Rename a graph output everywhere it appears (producing node and graph output)."""
    for node in graph.node:
        node.output[:] = [new if name == old else name for name in node.output]
        node.input[:] = [new if name == old else name for name in node.input]
    graph.output[0].name = new


def read_metadata(path: str | Path) -> dict:
    """The metadata written by `finalize`, decoded."""
    model = onnx.load(str(path), load_external_data=False)
    return {
        prop.key.removeprefix(METADATA_PREFIX): json.loads(prop.value)
        for prop in model.metadata_props
        if prop.key.startswith(METADATA_PREFIX)
    }
