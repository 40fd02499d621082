"""prepare: load the declared source, validate it, split it, write data/prepared/."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd

from ml import options
from ml.config import PrepareParams, load_params
from ml.data import features, images, schema, splitting
from ml.data.sources import DIGITS_MAX, DataError, RawData, load_source
from ml.io import atomic_dir, write_json

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


def prepare(params: PrepareParams, out_dir: Path) -> dict:
    """Validate and split the data; everything is checked before anything is written."""
    if params.source.images:
        return prepare_images(params, out_dir)
    raw = load_source(params)
    frame = schema.validate(raw)
    frame = features.drop_incomplete_rows(
        frame, raw.numeric_features, raw.categorical_features, params.missing
    )
    parts = split(frame, raw, params)
    encoding = features.fit_encoding(
        parts["train"], raw.numeric_features, raw.categorical_features, params.missing
    )
    labels = class_labels(frame[raw.target]) if raw.task == "classification" else None
    arrays = {name: to_arrays(part, raw, encoding, labels) for name, part in parts.items()}
    dataset = describe(raw, encoding, labels, arrays)
    with atomic_dir(out_dir) as tmp:
        for name, (x, y) in arrays.items():
            np.savez(tmp / f"{name}.npz", x=x, y=y)
        write_json(tmp / "dataset.json", dataset)
    return dataset


def prepare_images(params: PrepareParams, out_dir: Path) -> dict:
    """An image folder: a manifest of files, classes and digests per split, not the pixels.
    Every file is decoded once here, so an unreadable one fails prepare, not a training run."""
    root = Path(str(params.source.images))
    found = images.scan(root)
    files = [name for name, _ in found]
    digests = images.check_decodable(root, files)
    frame = pd.DataFrame(
        {"path": files, "label": [label for _, label in found], "sha256": digests}
    )
    raw = RawData(
        frame=frame,
        target="label",
        task="classification",
        numeric_features=[],
        categorical_features=[],
        origin=root.as_posix(),
    )
    parts = split(frame, raw, params)
    settings = params.image_settings
    preprocessing = images.Preprocessing((settings.size[0], settings.size[1]), settings.color_mode)
    dataset = {
        "task": "classification",
        "input_kind": "image",
        "input_shape": list(preprocessing.input_shape),
        "origin": root.as_posix(),
        "target": "label",
        "class_labels": class_labels(frame["label"]),
        "feature_names": pixel_names(preprocessing.input_shape),
        "encoding": None,
        "image_root": root.as_posix(),
        "preprocessing": preprocessing.describe(),
        "rows": {name: len(parts[name]) for name in SPLITS},
    }
    with atomic_dir(out_dir) as tmp:
        for name, part in parts.items():
            # In the seeded splitter's shuffled order, as the arrays of a table: the first
            # rows of a split are a sample of all its classes (export's drift reference and
            # examples take them).
            rows = part[list(images.MANIFEST_COLUMNS)]
            images.write_manifest(tmp / images.manifest_name(name), rows.values.tolist())
        write_json(tmp / "dataset.json", dataset)
    return dataset


def pixel_names(shape: tuple[int, ...]) -> list[str]:
    """One name per input value of an image, row_column_channel: the drift reference's columns."""
    return [f"pixel_{'_'.join(map(str, index))}" for index in np.ndindex(*shape)]


def split(frame: pd.DataFrame, raw: RawData, params: PrepareParams) -> dict[str, pd.DataFrame]:
    """Deterministic train/validation/test split, stratified on the class for classification."""
    fractions = params.split
    stratify = frame[raw.target].astype(str) if raw.task == "classification" else None
    if stratify is not None:
        counts = stratify.value_counts()
        if len(counts) < 2:
            # The schema checks this on the raw table, but 'drop_row' may remove a whole class.
            raise DataError(
                f"only one class left ({', '.join(map(repr, counts.index))}) after dropping rows "
                "with missing values; a classifier needs at least two"
            )
        needed = minimum_rows_per_class(fractions.validation, fractions.test)
        too_small = counts[counts < needed]
        if not too_small.empty:
            named = ", ".join(f"{label!r} ({count})" for label, count in too_small.items())
            raise DataError(
                f"classes with too few rows for a stratified split: {named}; "
                f"each class needs at least {needed} rows"
            )
    held_out = fractions.validation + fractions.test
    try:
        train, rest = split_rows(frame, held_out, params.seed, stratify)
        validation, test = split_rows(
            rest,
            fractions.test / held_out,
            params.seed,
            stratify.loc[rest.index] if stratify is not None else None,
        )
    except ValueError as exc:  # e.g. too few rows for the requested fractions
        raise DataError(f"cannot split {len(frame)} rows as {fractions}: {exc}") from None
    return {"train": train, "validation": validation, "test": test}


def split_rows(
    frame: pd.DataFrame, test_fraction: float, seed: int, stratify: pd.Series | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train part, test part) of `frame`, as scikit-learn's train_test_split draws them."""
    classes = None if stratify is None else stratify.to_numpy()
    train, test = splitting.split_indices(len(frame), test_fraction, seed, classes)
    return frame.iloc[train], frame.iloc[test]


def minimum_rows_per_class(validation: float, test: float) -> int:
    """Rows a class needs so each split can hold at least one of it."""
    return max(3, int(np.ceil(1 / min(validation, test))))


def class_labels(target: pd.Series) -> list[str]:
    values = target.unique()
    try:  # numeric classes sort as numbers (2 before 10), text classes as text
        ordered = sorted(values, key=float)
    except (TypeError, ValueError):
        ordered = sorted(values, key=str)
    return [str(value) for value in ordered]


def to_arrays(part: pd.DataFrame, raw: RawData, encoding: dict, labels: list[str] | None):
    x = features.encode(part, encoding)
    if raw.image_shape is not None:
        x = (x / DIGITS_MAX).reshape(-1, *raw.image_shape).astype(np.float32)
    if labels is None:
        y = part[raw.target].to_numpy(dtype=np.float32)
    else:
        index = {label: code for code, label in enumerate(labels)}
        y = part[raw.target].astype(str).map(index).to_numpy(dtype=np.int64)
    return x, y


def describe(raw: RawData, encoding: dict, labels, arrays) -> dict:
    """dataset.json: everything later stages and the ONNX metadata need to know about the data."""
    x_train = arrays["train"][0]
    return {
        "task": raw.task,
        "input_kind": "image" if raw.image_shape else "tabular",
        "input_shape": list(x_train.shape[1:]),
        "origin": raw.origin,
        "target": raw.target,
        "class_labels": labels,
        "feature_names": encoding["encoded_columns"],
        "encoding": encoding,
        "rows": {name: len(arrays[name][0]) for name in SPLITS},
    }


def main(
    params_path: options.ParamsFile = options.PARAMS,
    out: Annotated[Path, options.out("Directory for the prepared splits.")] = options.PREPARED,
) -> None:
    """Load, validate and split the data source declared in params.yaml."""
    params = load_params(params_path)
    dataset = prepare(params.prepare, out)
    rows = dataset["rows"]
    log.info(
        "Prepared %s (%s): %d train / %d validation / %d test rows, %d features -> %s",
        dataset["origin"],
        dataset["task"],
        rows["train"],
        rows["validation"],
        rows["test"],
        len(dataset["feature_names"]),
        out,
    )
