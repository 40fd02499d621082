"""`train.model` references to a team's build function, checked without importing them."""

from __future__ import annotations

import pytest

from ml import model_reference
from ml.config import ParamsError, parse_params

NET = "import keras\n\n\ndef build(input_shape, task, outputs, hyperparameters):\n    pass\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models/net.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def error_of(train: dict) -> str:
    with pytest.raises(ParamsError) as caught:
        parse_params({"train": train})
    return str(caught.value)


def test_a_file_reference(project) -> None:
    reference = model_reference.parse("models/net.py:build")
    assert (reference.path, reference.function, reference.module) == (
        "models/net.py",
        "build",
        None,
    )


def test_a_module_reference() -> None:
    reference = model_reference.parse("ml.models:build_model")
    assert (reference.module, reference.function, reference.path) == (
        "ml.models",
        "build_model",
        None,
    )


def test_checking_a_reference_imports_nothing(project) -> None:
    # The file imports keras; reading it with ast must not run it.
    import sys

    before = set(sys.modules)
    parse_params({"train": {"model": "models/net.py:build", "model_file": "models/net.py"}})
    assert not {
        name for name in set(sys.modules) - before if "keras" in name or "tensorflow" in name
    }


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("models/none.py:build", "'models/none.py:build': no such file models/none.py"),
        (
            "models/net.py:make",
            "models/net.py defines no top-level function 'make' (functions defined there: build)",
        ),
        ("no_such_package.models:build", "no installed module 'no_such_package'"),
        ("../net.py:build", "the file must be inside the project"),
        ("models/net.py", "is not cnn, mlp, or a reference to a build function"),
    ],
)
def test_a_bad_reference_is_a_params_error(project, model, message) -> None:
    text = error_of({"model": model})
    assert f"train.model: {message}" in text or message in text


def test_a_file_that_is_not_python(project) -> None:
    (project / "models/broken.py").write_text("def build(:\n")
    assert "models/broken.py is not valid Python" in error_of({"model": "models/broken.py:build"})


def test_model_file_must_name_the_referenced_file(project) -> None:
    text = error_of({"model": "models/net.py:build", "model_file": "ml/models.py"})
    assert "set model_file: models/net.py so dvc.yaml re-runs train" in text


def test_hyperparameters_belong_to_an_own_model() -> None:
    text = error_of({"model": "mlp", "hyperparameters": {"units": 8}})
    assert "the built-in 'mlp' model takes its settings from train.mlp" in text
