"""What a model saw in training, saved inside its ONNX file for the service and the monitor.

- `reference`: per input column, bin edges from the training split's quantiles and the share of
  training rows in each bin. The monitor bins the inputs the service sampled with the same edges
  and compares the shares (population stability index, PSI).
- `examples`: a few held-out test rows with their targets. The deploy smoke test sends them to
  the new service, and the web page offers them as ready-made inputs.

Everything here is plain numpy so the monitor can use it without the training stack.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BINS = 10  # quantile bins per column; fewer when a column has few distinct values
EXAMPLES = 32  # held-out rows kept as examples (about 12 KiB of JSON for the digits model)
# Shares below this count as this: an empty bin would make PSI infinite.
MIN_SHARE = 1e-4

# A number, or a list of them, or a list of lists of them...: an array as JSON has it.
Nested = float | list["Nested"]


def describe(
    x_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    column_names: list[str],
    class_labels: list[str] | None,
) -> dict:
    """The `reference` and `examples` metadata entries for a model trained on `x_train`."""
    return {
        "reference": reference_statistics(x_train, column_names),
        "examples": examples(x_test, y_test, class_labels),
    }


def reference_statistics(x_train: np.ndarray, column_names: list[str], bins: int = BINS) -> dict:
    rows = x_train.reshape(len(x_train), -1).astype(np.float64)
    if rows.shape[1] != len(column_names):
        raise ValueError(f"{rows.shape[1]} input columns but {len(column_names)} column names")
    quantiles = np.linspace(0, 1, bins + 1)[1:-1]
    columns = []
    for name, values in zip(column_names, rows.T, strict=True):
        # Rounded edges keep the metadata small; shares are counted with the rounded edges, so
        # the monitor, which bins with the same stored edges, compares like with like.
        edges = np.unique(np.round(np.quantile(values, quantiles), 6))
        columns.append(
            {"name": name, "edges": edges.tolist(), "shares": bin_shares(values, edges).tolist()}
        )
    return {"rows": len(rows), "columns": columns}


def bin_shares(values: np.ndarray, edges: np.ndarray | list[float]) -> np.ndarray:
    """Share of `values` in each of the len(edges) + 1 bins: below e0, [e0, e1), ..., from eN."""
    edges = np.asarray(edges, dtype=np.float64)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return np.round(counts / max(len(values), 1), 6)


def population_stability_index(expected: npt.ArrayLike, actual: npt.ArrayLike) -> float:
    """sum((actual - expected) * ln(actual / expected)) over bins; 0 means the same distribution.
    Rules of thumb: < 0.1 stable, 0.1-0.25 a moderate shift, > 0.25 a major one."""
    before = np.maximum(np.asarray(expected, dtype=np.float64), MIN_SHARE)
    after = np.maximum(np.asarray(actual, dtype=np.float64), MIN_SHARE)
    return float(np.sum((after - before) * np.log(after / before)))


def examples(x_test: np.ndarray, y_test: np.ndarray, class_labels: list[str] | None) -> dict:
    rows = x_test[:EXAMPLES]
    targets = y_test[:EXAMPLES]
    return {
        "inputs": [compact(row) for row in rows],
        "targets": [class_labels[int(t)] for t in targets]
        if class_labels
        else [round(float(t), 6) for t in targets],
    }


def compact(row: np.ndarray) -> Nested:
    """A float32 array as nested lists of the shortest decimals that read back as the same
    float32 values (5.1 rather than 5.099999904632568): half the JSON, the same model input."""
    values = np.asarray(row, dtype=np.float32)
    if values.ndim == 0:
        return float(str(values))
    return [compact(part) for part in values]
