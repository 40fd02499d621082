"""Turn a validated table into a float32 matrix: fill missing values, one-hot encode categories.

The fitted encoding is plain JSON (fill values, category lists, encoded column names) so the
serving side can rebuild a feature vector from named inputs without pandas or scikit-learn.
Statistics come from the training split only, so validation and test never leak into them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.config import Missing
from ml.data.sources import DataError

MISSING_CATEGORY = "__missing__"


def drop_incomplete_rows(
    frame: pd.DataFrame, numeric: list[str], categorical: list[str], missing: Missing
) -> pd.DataFrame:
    """Apply the 'drop_row' and 'error' rules, which act before the split."""
    # The kind names the exact key (prepare.missing.numeric) in the error for 'error'.
    rules = (
        ("numeric", numeric, missing.numeric),
        ("categorical", categorical, missing.categorical),
    )
    for kind, columns, rule in rules:
        if not columns:
            continue
        incomplete = frame[columns].isna()
        if rule == "error" and incomplete.any().any():
            counts = incomplete.sum()
            named = ", ".join(f"{name!r} ({count})" for name, count in counts[counts > 0].items())
            raise DataError(
                f"missing values in {named}; prepare.missing.{kind} says 'error'. "
                "Choose a fill rule (e.g. median, most_frequent) or 'drop_row'."
            )
        if rule == "drop_row":
            frame = frame[~incomplete.any(axis=1)]
    if frame.empty:
        raise DataError("no rows left after dropping rows with missing values")
    return frame


def fit_encoding(
    train: pd.DataFrame, numeric: list[str], categorical: list[str], missing: Missing
) -> dict:
    numeric_fill = {}
    for name in numeric:
        column = train[name]
        if missing.numeric == "mean":
            value = column.mean()
        elif missing.numeric == "zero":
            value = 0.0
        else:
            value = column.median()
        numeric_fill[name] = 0.0 if pd.isna(value) else float(value)
    categories = {}
    categorical_fill = {}
    for name in categorical:
        column = train[name]
        if missing.categorical == "constant" or column.dropna().empty:
            fill = MISSING_CATEGORY
        else:
            fill = str(column.mode(dropna=True).iloc[0])
        categorical_fill[name] = fill
        seen = set(column.dropna().astype(str)) | {fill}
        categories[name] = sorted(seen)
    columns = list(numeric)
    for name in categorical:
        columns += [f"{name}={value}" for value in categories[name]]
    return {
        "numeric": [{"name": n, "fill": numeric_fill[n]} for n in numeric],
        "categorical": [
            {"name": n, "fill": categorical_fill[n], "categories": categories[n]}
            for n in categorical
        ],
        "encoded_columns": columns,
    }


def encode(frame: pd.DataFrame, encoding: dict) -> np.ndarray:
    """Float32 matrix in `encoded_columns` order; unseen categories encode as all zeros."""
    parts = []
    for spec in encoding["numeric"]:
        parts.append(frame[spec["name"]].astype("float64").fillna(spec["fill"]).to_numpy())
    for spec in encoding["categorical"]:
        values = frame[spec["name"]].astype("string").fillna(spec["fill"]).to_numpy()
        for category in spec["categories"]:
            parts.append((values == category).astype("float64"))
    return np.column_stack(parts).astype(np.float32)
