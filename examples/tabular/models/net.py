"""The team's own model: `train.model: models/net.py:build` in params.yaml.

`build` gets the shape of one example, the task, the number of outputs (classes, or 1) and
`train.hyperparameters`, and returns a Keras model; the kit compiles it for the task (Adam at
train.learning_rate) because it comes uncompiled.
"""

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="fuel")
class SignedLog(layers.Layer):
    """sign(x) * log(1 + |x|): puts kilograms, litres and years on comparable scales without
    statistics from the data. Written with log(1 + x), not log1p, which has no ONNX operator."""

    def call(self, inputs):
        return keras.ops.sign(inputs) * keras.ops.log(1.0 + keras.ops.abs(inputs))


def build(input_shape, task, outputs, hyperparameters):
    inputs = keras.Input(shape=input_shape, name="features")
    hidden = SignedLog(name="signed_log")(inputs)
    for units in hyperparameters.get("units", [64, 32]):
        hidden = layers.Dense(units, activation="relu")(hidden)
        hidden = layers.Dropout(hyperparameters.get("dropout_rate", 0.1))(hidden)
    if task == "classification":
        result = layers.Dense(outputs, activation="softmax", name="probabilities")(hidden)
    else:
        result = layers.Dense(outputs, name="prediction")(hidden)
    return keras.Model(inputs, result, name="fuel_net")
