"""Models for the serving tests (made once per session; the digits and image models are
`digits_onnx` and `image_onnx` in tests/conftest.py) and running digits and image services."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.config import PrepareParams
from ml.prepare import prepare
from tests.serving import linear_model, running_service, write_serve_params


@pytest.fixture(scope="session")
def tabular_onnx(tmp_path_factory) -> Path:
    """A classifier of named tabular features, one of them categorical (one-hot encoded)."""
    root = tmp_path_factory.mktemp("tabular")
    rng = np.random.default_rng(0)
    rows = 240
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype(float),
            "income": rng.normal(50, 15, rows).round(1),
            "city": rng.choice(["Lyon", "Nice", "Paris"], rows),
        }
    )
    frame["plan"] = np.where(frame["age"] > 50, "senior", "standard")
    frame.to_csv(root / "people.csv", index=False)
    params = PrepareParams(
        source={"path": str(root / "people.csv")},
        task="classification",
        target="plan",
        numeric_features=["age", "income"],
        categorical_features=["city"],
    )
    prepare(params, root / "prepared")
    return linear_model(root / "prepared", root / "model.onnx")


@pytest.fixture(scope="session")
def regression_onnx(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("regression")
    prepare(PrepareParams(source={"bundled": "diabetes"}), root / "prepared")
    return linear_model(root / "prepared", root / "model.onnx")


@pytest.fixture(scope="module")
def digits_service(digits_onnx, tmp_path_factory):
    """The digits model served by `python -m ml.serve` on loopback, shared by a module."""
    root = tmp_path_factory.mktemp("service")
    params = write_serve_params(root / "params.yaml", max_batch_rows=64, max_body_bytes=1 << 20)
    with running_service(digits_onnx, params, root / "service.log") as url:
        yield url


@pytest.fixture(scope="module")
def image_service(image_onnx, tmp_path_factory):
    """The image model served as `shapes` on loopback, shared by a module."""
    root = tmp_path_factory.mktemp("image-service")
    params = write_serve_params(
        root / "params.yaml", model_name="shapes", max_batch_rows=8, max_body_bytes=1 << 20
    )
    with running_service(image_onnx, params, root / "service.log") as url:
        yield url
