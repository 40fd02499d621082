"""The digits model as an ONNX file, made once per session (see tests/serving.py)."""

from __future__ import annotations

import pytest

from tests.serving import linear_model


@pytest.fixture(scope="session")
def digits_onnx(prepared_digits, tmp_path_factory):
    return linear_model(prepared_digits, tmp_path_factory.mktemp("digits") / "model.onnx")
