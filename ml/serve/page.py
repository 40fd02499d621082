"""GET /: the web client, built from the model's metadata. Models trained on image files take an
uploaded or dropped PNG or JPEG (sent as v1 {"b64": ...}); tiny grayscale image models also get
a drawing grid; tabular models a form of their named features. All call the service's own v1
predict endpoint and show the prediction with its probabilities. Everything is inline: the page
works offline."""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path

import numpy as np

from ml.serve.model import LoadedModel

EXAMPLES_ON_PAGE = 10
GRID_MAX_SIDE = 28  # a drawing grid for tiny grayscale images (8 x 8 digits, 28 x 28 MNIST)
EXAMPLE_MAX_SIZE = 64 * 64 * 3  # examples larger than this would make the page megabytes
# An image model's examples are PNG files (base64): the page holds the first ones up to this many
# bytes of them (at least one), about 3 at 224x224 RGB, all 10 for small images.
EXAMPLE_IMAGE_BYTES = 512 * 1024


@functools.cache
def template() -> str:
    return Path(__file__).with_name("page.html").read_text(encoding="utf-8")


def render(model: LoadedModel, name: str) -> bytes:
    # JSON inside <script>: escape what could close the element or start markup.
    config = json.dumps(page_config(model, name))
    config = config.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    page = template().replace("__TITLE__", html.escape(f"{name} · runwright"))
    return page.replace("__CONFIG__", config).encode("utf-8")


def page_config(model: LoadedModel, name: str) -> dict:
    shape = model.row_shape
    grid = (
        model.metadata.get("input_kind") == "image"
        and (len(shape) == 2 or (len(shape) == 3 and shape[2] == 1))
        and max(shape[:2]) <= GRID_MAX_SIDE
    )
    upload = model.preprocessing is not None
    features, named = (None, False) if grid or upload else form_fields(model)
    examples = page_examples(model, features, named)
    return {
        "name": name,
        "version": model.version,
        "task": model.task,
        "target": model.metadata.get("target"),
        "row_shape": list(shape),
        "grid": grid,
        "upload": upload,
        "features": features,
        "named": named,
        "examples": examples,
        "predict_url": f"/v1/models/{name}:predict",
    }


def form_fields(model: LoadedModel) -> tuple[list[dict], bool]:
    """The form's fields, and whether they are the model's named (pre-encoding) features."""
    encoding = model.encoding
    if encoding:
        fields = [{"name": s["name"], "fill": s["fill"]} for s in encoding["numeric"]]
        fields += [
            {"name": s["name"], "fill": s["fill"], "categories": s["categories"]}
            for s in encoding["categorical"]
        ]
        return fields, True
    names = model.metadata.get("feature_names") or []
    if len(names) != model.row_size:
        names = [f"x{i}" for i in range(model.row_size)]
    return [{"name": name, "fill": 0.0} for name in names], False


def page_examples(model: LoadedModel, fields: list[dict] | None, named: bool) -> list[dict]:
    examples = model.metadata.get("examples") or {}
    if examples.get("images"):
        return image_examples(examples)
    if model.row_size > EXAMPLE_MAX_SIZE:  # a huge table, or an image model saved as pixels
        return []
    pairs = list(zip(examples.get("inputs", []), examples.get("targets", []), strict=False))
    encoding = model.encoding if named else None
    result = []
    for row, target in pairs[:EXAMPLES_ON_PAGE]:
        flat = np.asarray(row, dtype=np.float64).ravel()
        values: list[float] | dict[str, object]
        if fields is None:
            values = flat.tolist()
        elif encoding is not None:
            values = decode(flat, encoding)
        else:
            values = dict(zip([f["name"] for f in fields], flat.tolist(), strict=True))
        result.append({"input": values, "target": target})
    return result


def image_examples(examples: dict) -> list[dict]:
    """An image model's examples as the page shows and sends them: the PNG's base64 text."""
    result: list[dict] = []
    total = 0
    for text, target in zip(examples["images"], examples.get("targets", []), strict=False):
        total += len(text)
        if len(result) == EXAMPLES_ON_PAGE or (result and total > EXAMPLE_IMAGE_BYTES):
            break
        result.append({"b64": text, "target": target})
    return result


def decode(row: np.ndarray, encoding: dict) -> dict:
    """An encoded row back to named values: numbers as they are, the hot one-hot column's
    category (the fill value when none is hot)."""
    values: dict[str, object] = {}
    for column, spec in enumerate(encoding["numeric"]):
        values[spec["name"]] = float(row[column])
    offset = len(encoding["numeric"])
    for spec in encoding["categorical"]:
        group = row[offset : offset + len(spec["categories"])]
        hot = int(np.argmax(group))
        values[spec["name"]] = spec["categories"][hot] if group[hot] > 0.5 else spec["fill"]
        offset += len(spec["categories"])
    return values
