"""Model construction from params: shapes, heads and the errors for impossible combinations."""

from __future__ import annotations

import numpy as np
import pytest

from ml.config import TrainParams
from ml.errors import UserError
from ml.models import build_model

IMAGE = {
    "task": "classification",
    "input_kind": "image",
    "input_shape": [8, 8, 1],
    "class_labels": [str(d) for d in range(10)],
}
TABULAR_REGRESSION = {
    "task": "regression",
    "input_kind": "tabular",
    "input_shape": [5],
    "class_labels": None,
}


def test_cnn_classifier_outputs_probabilities_per_class():
    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    model = build_model(TrainParams(cnn={"filters": [4, 8]}), IMAGE, x, np.zeros(16))
    assert model.inputs[0].name == "image"
    out = model.predict(x, verbose=0)
    assert out.shape == (16, 10)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_mlp_regressor_starts_at_the_target_mean_in_target_units():
    import keras

    # The initial weights are random: seeded, so that the tolerance below is not a draw.
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = (rng.normal(size=64) * 50 + 150).astype(np.float32)
    model = build_model(TrainParams(model="mlp"), TABULAR_REGRESSION, x, y)
    assert model.inputs[0].name == "features"
    prediction = model.predict(x, verbose=0)
    assert prediction.shape == (64, 1)
    # Untrained, the rescaled head predicts near the mean (150), not near 0.
    assert abs(float(prediction.mean()) - float(y.mean())) < 0.5 * float(y.std())


def test_mlp_standardizes_inside_the_model():
    x = np.array([[1000.0, 0.001]] * 8 + [[3000.0, 0.003]] * 8, dtype=np.float32)
    model = build_model(
        TrainParams(model="mlp"),
        TABULAR_REGRESSION | {"input_shape": [2]},
        x,
        np.arange(16, dtype=np.float32),
    )
    standardized = model.get_layer("standardize")(x).numpy()
    np.testing.assert_allclose(standardized.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(standardized.std(axis=0), 1.0, atol=1e-3)


def test_cnn_on_tabular_data_is_refused_with_advice():
    x = np.zeros((4, 5), dtype=np.float32)
    with pytest.raises(UserError, match=r"train\.model is 'cnn'.*use train\.model: mlp"):
        build_model(TrainParams(model="cnn"), TABULAR_REGRESSION, x, np.zeros(4))


def test_val_accuracy_monitor_on_regression_is_refused():
    params = TrainParams(model="mlp", early_stopping={"monitor": "val_accuracy"})
    with pytest.raises(UserError, match=r"val_accuracy.*regression"):
        build_model(params, TABULAR_REGRESSION, np.zeros((4, 5), np.float32), np.zeros(4))
