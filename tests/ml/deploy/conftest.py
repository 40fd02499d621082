"""The digits model as an ONNX file, made once per session (see tests/serving.py), and a
registered version of a model for the targets that only render manifests."""

from __future__ import annotations

import pytest

from ml.deploy.registry import RegisteredModel
from tests.serving import linear_model


@pytest.fixture(scope="session")
def digits_onnx(prepared_digits, tmp_path_factory):
    return linear_model(prepared_digits, tmp_path_factory.mktemp("digits") / "model.onnx")


@pytest.fixture
def registered(tmp_path):
    return RegisteredModel(
        name="digits",
        version="3",
        sha256="ab" * 32,
        file=tmp_path / "model.onnx",
        artifact_uri="s3://models/1/abc/artifacts",
    )
