"""A team's own model code in `train.model`: built, checked against the data, compiled for the
task, trained, saved and loaded with its registered custom layer; bad references fail clearly
before any training."""

from __future__ import annotations

import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from ml import models, user_model
from ml.config import parse_params
from ml.errors import UserError
from ml.train import fit, load_prepared
from tests.conftest import tiny_params
from tests.helpers import run_ml

# A small CNN for the 8x8 digits with a custom layer registered for Keras serialization.
NET = """
import keras
from keras import layers


@keras.saving.register_keras_serializable(package="team")
class Brighten(layers.Layer):
    def __init__(self, gain=2.0, **kwargs):
        super().__init__(**kwargs)
        self.gain = gain

    def call(self, inputs):
        return inputs * self.gain

    def get_config(self):
        return {**super().get_config(), "gain": self.gain}


def build(input_shape, task, outputs, hyperparameters):
    inputs = keras.Input(shape=input_shape)
    hidden = Brighten(hyperparameters.get("gain", 2.0), name="brighten")(inputs)
    hidden = layers.Conv2D(hyperparameters.get("filters", 8), 3, activation="relu")(hidden)
    hidden = layers.Flatten()(hidden)
    return keras.Model(inputs, layers.Dense(outputs, activation="softmax")(hidden))


def compiled(input_shape, task, outputs, hyperparameters):
    model = build(input_shape, task, outputs, hyperparameters)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def not_a_model(input_shape, task, outputs, hyperparameters):
    return {"layers": 3}


def too_few_outputs(input_shape, task, outputs, hyperparameters):
    inputs = keras.Input(shape=input_shape)
    return keras.Model(inputs, layers.Dense(outputs - 1)(layers.Flatten()(inputs)))


def wrong_input(input_shape, task, outputs, hyperparameters):
    inputs = keras.Input(shape=(4, 4, 1))
    return keras.Model(inputs, layers.Dense(outputs)(layers.Flatten()(inputs)))


def fails(input_shape, task, outputs, hyperparameters):
    return hyperparameters["missing"]


def two_arguments(input_shape, task):
    return None
"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project directory holding models/net.py, as the working directory."""
    (tmp_path / "models").mkdir()
    (tmp_path / "models/net.py").write_text(textwrap.dedent(NET))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def settings_for(function: str = "build", **train):
    params = tiny_params(model=f"models/net.py:{function}", model_file="models/net.py", **train)
    for key in ("cnn",):
        params["train"].pop(key)
    return parse_params(params).train


def build(prepared, function: str = "build", **train):
    data = load_prepared(prepared)
    return models.build_model(
        settings_for(function, **train), data.dataset, data.x_train, data.y_train
    )


def test_own_model_is_compiled_for_the_task(project, prepared_digits) -> None:
    model = build(prepared_digits, learning_rate=0.003, hyperparameters={"filters": 4})
    assert model.compiled and model.loss == "sparse_categorical_crossentropy"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.003)
    assert model.layers[2].filters == 4  # the hyperparameters reached build()


def test_a_model_compiled_by_its_build_function_is_kept(project, prepared_digits) -> None:
    model = build(prepared_digits, "compiled")
    assert isinstance(model.optimizer, keras.optimizers.SGD)


def test_own_model_trains_and_round_trips_with_its_custom_layer(
    project, prepared_digits, tmp_path
) -> None:
    settings = settings_for(epochs=3, hyperparameters={"gain": 1.5})
    fitted = fit(settings, load_prepared(prepared_digits))
    assert [row["epoch"] for row in fitted.history] == [1, 2, 3]
    assert fitted.history[-1]["val_accuracy"] > 0.5  # it learns the digits
    path = tmp_path / "model.keras"
    fitted.model.save(path)
    loaded = models.load_model(path, settings.reference)
    assert type(loaded.get_layer("brighten")).__name__ == "Brighten"
    assert loaded.get_layer("brighten").gain == 1.5
    x_test = np.load(prepared_digits / "test.npz")["x"]
    np.testing.assert_allclose(
        loaded.predict(x_test, verbose=0), fitted.model.predict(x_test, verbose=0), atol=1e-6
    )


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("not_a_model", "not_a_model() returned dict, not a keras.Model"),
        (
            "too_few_outputs",
            "the model's output for classification has shape [9] per example, the data needs [10]",
        ),
        (
            "wrong_input",
            "the model's input has shape [4, 4, 1] per example, the data needs [8, 8, 1]",
        ),
        ("fails", "fails() failed: KeyError: 'missing'"),
        (
            "two_arguments",
            "two_arguments must accept (input_shape, task, outputs, hyperparameters)",
        ),
    ],
)
def test_a_bad_build_function_is_named(project, prepared_digits, function, message) -> None:
    with pytest.raises(user_model.ModelCodeError) as caught:
        build(prepared_digits, function)
    assert f"train.model 'models/net.py:{function}'" in str(caught.value)
    assert message in str(caught.value)


def test_a_module_without_the_function_is_named() -> None:
    params = tiny_params(model="ml.models:no_such_builder")
    reference = parse_params(params).train.reference
    assert reference is not None
    with pytest.raises(user_model.ModelCodeError, match=r"ml\.models has no function"):
        user_model.build(reference, (8, 8, 1), "classification", 10, {})


def test_ml_train_refuses_a_bad_model_before_any_run_or_checkpoint(
    project, prepared_digits
) -> None:
    import yaml

    params = tiny_params(model="models/net.py:too_few_outputs", model_file="models/net.py")
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    result = run_ml(
        "train", "--params", "params.yaml", "--data", str(prepared_digits), cwd=project
    )
    assert result.returncode == 1
    assert "the data needs [10]" in result.stderr
    assert "Traceback" not in result.stderr
    for left in ("models/model.keras", "metrics", "checkpoints", "mlflow.db", "plots"):
        assert not (project / left).exists(), left


def test_export_names_the_layer_onnx_cannot_take(tmp_path) -> None:
    from ml.export import to_onnx

    @keras.saving.register_keras_serializable(package="test")
    class Log1pLayer(keras.layers.Layer):
        def call(self, inputs):
            return keras.ops.log1p(keras.ops.abs(inputs))

    inputs = keras.Input(shape=(3,))
    hidden = keras.layers.Dense(4)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(Log1pLayer(name="squash")(hidden)))
    model.predict(np.zeros((1, 3)), verbose=0)
    with pytest.raises(UserError) as caught:
        to_onnx(model, tmp_path / "model.onnx")
    assert "ONNX export failed at layer 'squash' (Log1pLayer)" in str(caught.value)
    assert "Log1p" in str(caught.value)  # the exporter's own reason


def test_a_tune_trial_samples_and_trains_the_own_models_hyperparameters(
    project, prepared_digits, monkeypatch
) -> None:
    import math
    import time

    import optuna

    from ml import tracking
    from ml.tune import search_space
    from ml.tune.trial import run_trial

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)

    params = parse_params(
        tiny_params(
            model="models/net.py:build",
            model_file="models/net.py",
            epochs=2,
            hyperparameters={"filters": 8, "gain": 2.0},
        )
    )
    # No tune.space in params: the default searches around each hyperparameter.
    assert params.tune.space["hyperparameters.filters"].choices == [4, 8, 16]
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
    overrides = search_space.suggest(trial, params.tune.space)
    settings = search_space.train_params(params.train, overrides)
    assert settings.hyperparameters["filters"] == overrides["hyperparameters.filters"]
    with tracking.start_run(None, run_name="trial"):  # the trial logs its epochs to a run
        result = run_trial(
            trial,
            settings,
            load_prepared(prepared_digits),
            "val_accuracy",
            True,
            time.monotonic() + 300,
        )
    assert result["epochs"] == 2 and math.isfinite(result["value"])
