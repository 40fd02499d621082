"""What a model saw in training, saved inside its ONNX file for the service and the monitor.

- `reference`: per input column, bin edges from the training split's quantiles and the share of
  training rows in each bin. The monitor bins the inputs the service sampled with the same edges
  and compares the shares (population stability index, PSI). For a model trained on an image
  folder the columns are not its pixels but a few dozen summary numbers per image
  (ml/image_summary.py: brightness, contrast, colour, edges, a coarse thumbnail), whatever the
  image size; such a reference says so (`kind`) and records the images' shape, and the monitor
  summarizes the sampled images the same way (`columns_of`).
- `examples`: a few held-out test rows with their targets. The deploy smoke test sends them to
  the new service, and the web page offers them as ready-made inputs. A model trained on an
  image folder keeps its test images instead, as base64 PNG (`images`, `image_examples`), sent
  as encoded images through the service's own image path.

Everything here is plain numpy so the monitor can use it without the training stack.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from ml import image_summary

BINS = 10  # quantile bins per column; fewer when a column has few distinct values
EXAMPLES = 32  # held-out rows kept as examples (about 12 KiB of JSON for the digits model)
# An image folder's examples are its first test images as PNG (lossless, of the model's size and
# colour mode: they decode to exactly the rows the model saw), base64 in an `images` list. They
# are kept in order, up to EXAMPLES, while their base64 text adds up to at most EXAMPLE_BYTES;
# beyond that budget while fewer than MIN_IMAGE_EXAMPLES are kept, up to MAX_EXAMPLE_BYTES; and
# none rather than fewer than MIN_IMAGE_EXAMPLES, as the deploy's smoke test judges the service's
# accuracy on them (one or two would fail it by chance). A 224x224 RGB PNG is at most ~201 KB as
# base64 (noise does not compress), so every model up to that size keeps at least 8; 32x32 RGB
# images take a few KB each, so such a model keeps 32 in about 100 KB.
EXAMPLE_BYTES = 1_048_576
MAX_EXAMPLE_BYTES = 2_097_152
MIN_IMAGE_EXAMPLES = 8
# Shares below this count as this: an empty bin would make PSI infinite.
MIN_SHARE = 1e-4

log = logging.getLogger(__name__)

IMAGE_SUMMARY = "image_summary"  # a reference's `kind` when its columns summarize images

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


def image_reference(batches: Iterable[np.ndarray], input_shape: tuple[int, ...]) -> dict:
    """The reference of an image model: statistics of the summary columns of the training
    images, given a batch at a time (only the summaries are kept, never the pixels)."""
    summaries = [image_summary.summarize(batch) for batch in batches]
    rows = np.concatenate(summaries)
    statistics = reference_statistics(rows, image_summary.names(input_shape))
    return {"kind": IMAGE_SUMMARY, "input_shape": list(input_shape), **statistics}


def columns_of(stats: dict, rows: np.ndarray) -> np.ndarray:
    """Sampled input rows (flat, one per row) as the columns of the reference `stats`: the
    rows themselves, or for an image reference each image's summary."""
    if stats.get("kind") != IMAGE_SUMMARY:
        return rows
    shape = tuple(stats["input_shape"])
    size = int(np.prod(shape))
    if rows.ndim != 2 or rows.shape[1] != size:
        raise ValueError(
            f"samples have {rows.shape[-1]} values per row, the reference's images "
            f"{' x '.join(map(str, shape))} = {size}"
        )
    return image_summary.summarize(rows.reshape(len(rows), *shape))


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


def image_examples(x_test, y_test: np.ndarray, class_labels: list[str]) -> dict:
    """An image folder's examples: `images` (base64 PNG of the decoded test images `x_test`,
    which may be ImageFiles, decoded one at a time) and their `targets`, bounded as above."""
    import base64

    from ml.data.images import encode_png

    encoded: list[str] = []
    total = 0
    for row in range(min(EXAMPLES, len(x_test))):
        text = base64.b64encode(encode_png(x_test[row : row + 1][0])).decode("ascii")
        budget = EXAMPLE_BYTES if len(encoded) >= MIN_IMAGE_EXAMPLES else MAX_EXAMPLE_BYTES
        if total + len(text) > budget:
            break
        encoded.append(text)
        total += len(text)
    if len(encoded) < min(MIN_IMAGE_EXAMPLES, len(x_test)):
        log.warning(
            "Test images of %s are too large to keep %d as examples in %d bytes: the deploy's "
            "smoke test checks the service on a blank image, without accuracy",
            "x".join(map(str, np.shape(x_test)[1:])),
            MIN_IMAGE_EXAMPLES,
            MAX_EXAMPLE_BYTES,
        )
        encoded = []
    return {
        "images": encoded,
        "targets": [class_labels[int(t)] for t in y_test[: len(encoded)]],
    }


def compact(row: np.ndarray) -> Nested:
    """A float32 array as nested lists of the shortest decimals that read back as the same
    float32 values (5.1 rather than 5.099999904632568): half the JSON, the same model input."""
    values = np.asarray(row, dtype=np.float32)
    if values.ndim == 0:
        return float(str(values))
    return [compact(part) for part in values]
