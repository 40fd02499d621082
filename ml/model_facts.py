"""What `ml route` can know about the model before training it: the input it will get, and the
model as built (its kinds of layers, its parameter count).

The input comes from data/prepared when it exists, else from the source without preparing it:
the bundled table's size, or a file's declared columns (one value per numeric column, one per
category of a categorical one). Building imports TensorFlow (seconds), so route asks only when a
rule needs what only the built model tells: the layers of a team's own model, or a parameter
count. The kit's own models' layers are known without building them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ml.config import PrepareParams, TrainParams
from ml.datasets import BUNDLED_DATASETS
from ml.io import read_json

# The kinds of layers of the built-in models, known without building them.
BUILT_IN_LAYERS = {"cnn": frozenset({"convolution"}), "mlp": frozenset()}
# A layer is of a kind when a class it derives from has one of these words in its name.
LAYER_KINDS = {
    "convolution": ("Conv",),
    "attention": ("Attention",),
    "recurrent": ("RNN", "LSTM", "GRU"),
}


@dataclass(frozen=True)
class InputSpec:
    shape: tuple[int, ...]  # one example
    task: str
    outputs: int  # classes, or 1
    kind: str  # image | tabular

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class BuiltModel:
    layers: frozenset[str]
    parameters: int


def input_spec(prepare: PrepareParams, data_dir: Path) -> InputSpec | None:
    """The model's input, or None when it cannot be known yet (a URL not downloaded)."""
    dataset_file = data_dir / "dataset.json"
    if dataset_file.is_file():
        dataset = read_json(dataset_file)
        classes = dataset["class_labels"]
        return InputSpec(
            tuple(dataset["input_shape"]),
            dataset["task"],
            len(classes) if classes else 1,
            dataset["input_kind"],
        )
    source = prepare.source
    if source.bundled:
        spec = BUNDLED_DATASETS[source.bundled]
        shape = spec.image_shape or (spec.features,)
        kind = "image" if spec.image_shape else "tabular"
        return InputSpec(tuple(shape), spec.task, spec.classes or 1, kind)
    return file_input_spec(prepare)


def file_input_spec(prepare: PrepareParams) -> InputSpec | None:
    if prepare.source.images:
        return image_input_spec(prepare)
    path = Path(prepare.source.path) if prepare.source.path else None
    if path is None or not path.is_file():
        return None
    from ml.data.sources import read_table

    columns = [*prepare.categorical_features, str(prepare.target)]
    frame = read_table(path)[columns] if path.suffix == ".csv" else read_table(path)
    width = len(prepare.numeric_features)
    for name in prepare.categorical_features:
        # One column per category, plus the fill category when values are missing.
        width += int(frame[name].nunique()) + int(frame[name].isna().any())
    task = prepare.resolved_task
    outputs = int(frame[str(prepare.target)].nunique()) if task == "classification" else 1
    return InputSpec((width,), task, outputs, "tabular")


def image_input_spec(prepare: PrepareParams) -> InputSpec | None:
    """An image folder's input, from its settings; its classes are its sub-folders."""
    from ml.data.images import CHANNELS

    root = Path(str(prepare.source.images))
    if not root.is_dir():
        return None
    classes = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    settings = prepare.image_settings
    shape = (*settings.size, CHANNELS[settings.color_mode])
    return InputSpec(shape, "classification", max(len(classes), 2), "image")


def build(train: TrainParams, spec: InputSpec | None) -> BuiltModel | None:
    """Build the model on placeholder data without training it; None without an input spec."""
    if spec is None:
        return None
    import numpy as np

    from ml import models

    dataset = {
        "task": spec.task,
        "input_kind": spec.kind,
        "input_shape": list(spec.shape),
        "class_labels": [str(i) for i in range(spec.outputs)]
        if spec.task != "regression"
        else None,
    }
    rows = np.zeros((2, *spec.shape), dtype=np.float32)
    model = models.build_model(train, dataset, rows, np.zeros(2, dtype=np.float32))
    return BuiltModel(frozenset(kinds_of(model)), int(model.count_params()))


def kinds_of(model) -> set[str]:
    found = set()
    for layer in model._flatten_layers(include_self=False):
        names = [cls.__name__ for cls in type(layer).__mro__]
        for kind, words in LAYER_KINDS.items():
            if any(word in name for word in words for name in names):
                found.add(kind)
    return found


class ModelFacts:
    """The facts a route rule asks about, each worked out on first use only."""

    def __init__(self, prepare: PrepareParams, train: TrainParams, data_dir: Path):
        self.prepare, self.train, self.data_dir = prepare, train, data_dir
        self.known: dict[str, object] = {}  # what was worked out, for the route's output

    @cached_property
    def spec(self) -> InputSpec | None:
        return input_spec(self.prepare, self.data_dir)

    @cached_property
    def built(self) -> BuiltModel | None:
        built = build(self.train, self.spec)
        if built is not None:
            self.known["parameters"] = built.parameters
        return built

    @cached_property
    def input_size(self) -> int | None:
        size = self.spec.size if self.spec else None
        self.known["input_size"] = size
        return size

    @cached_property
    def layers(self) -> frozenset[str] | None:
        if self.train.model in BUILT_IN_LAYERS:
            kinds: frozenset[str] | None = BUILT_IN_LAYERS[self.train.model]
        else:
            kinds = self.built.layers if self.built else None
        self.known["layers"] = sorted(kinds) if kinds is not None else None
        return kinds

    @cached_property
    def parameters(self) -> int | None:
        return self.built.parameters if self.built else None
