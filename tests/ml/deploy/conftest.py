"""A registered version of a model, for the targets that only render manifests."""

from __future__ import annotations

import pytest

from ml.deploy.registry import RegisteredModel


@pytest.fixture
def registered(tmp_path):
    return RegisteredModel(
        name="digits",
        version="3",
        sha256="ab" * 32,
        file=tmp_path / "model.onnx",
        artifact_uri="s3://models/1/abc/artifacts",
    )
