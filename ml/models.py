"""Build and compile the Keras model described by `train` params and the prepared data."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from ml import user_model
from ml.config import TrainParams
from ml.errors import UserError
from ml.model_reference import Reference

# ONNX input/output names come from these layer names.
IMAGE_INPUT = "image"
TABULAR_INPUT = "features"
CLASSIFIER_OUTPUT = "probabilities"
REGRESSOR_OUTPUT = "prediction"


def build_model(params: TrainParams, dataset: dict, x_train: np.ndarray, y_train: np.ndarray):
    """A compiled model; build it inside the training strategy's scope."""
    check_compatible(params, dataset)
    task = dataset["task"]
    reference = params.reference
    if reference is not None:  # the team's own build function
        model = user_model.build(
            reference,
            tuple(dataset["input_shape"]),
            task,
            output_width(dataset),
            params.hyperparameters,
        )
        if not model.compiled:
            compile_for_task(model, params, task)
        return model
    is_image = dataset["input_kind"] == "image"
    # Mixed precision computes hidden layers in float16; inputs, outputs and the loss stay
    # float32, which keeps the softmax and the loss numerically stable.
    hidden_dtype = "mixed_float16" if params.gpu.mixed_precision else "float32"
    inputs = keras.Input(
        shape=tuple(dataset["input_shape"]), name=IMAGE_INPUT if is_image else TABULAR_INPUT
    )
    if params.model == "cnn":
        hidden = cnn_body(inputs, params, hidden_dtype)
    else:
        hidden = mlp_body(inputs, params, x_train, is_image, hidden_dtype)
    if task == "classification":
        outputs = layers.Dense(
            output_width(dataset), activation="softmax", name=CLASSIFIER_OUTPUT, dtype="float32"
        )(hidden)
    else:
        # Predict in standard units, then rescale: the untrained model starts at the mean target.
        standard = layers.Dense(1, name="standardized", dtype="float32")(hidden)
        mean, std = float(np.mean(y_train)), float(np.std(y_train) or 1.0)
        outputs = layers.Rescaling(scale=std, offset=mean, name=REGRESSOR_OUTPUT, dtype="float32")(
            standard
        )
    model = keras.Model(inputs, outputs, name=f"{params.model}_{task}")
    compile_for_task(model, params, task)
    return model


def output_width(dataset: dict) -> int:
    """Values per example the model outputs: one probability per class, or the prediction."""
    return len(dataset["class_labels"]) if dataset["task"] == "classification" else 1


def compile_for_task(model, params: TrainParams, task: str) -> None:
    """Adam at train.learning_rate with the task's loss and metrics."""
    if task == "classification":
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        loss = "mean_squared_error"
        metrics = [keras.metrics.RootMeanSquaredError(name="rmse"), "mae"]
    optimizer = keras.optimizers.Adam(learning_rate=params.learning_rate)
    if params.gpu.mixed_precision:
        # Scales the loss up before the float16 backward pass so small gradients do not
        # underflow to zero, and back down before the float32 weight update.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=params.gpu.jit_compile
    )


def load_model(path, reference: Reference | None = None):
    """Load a saved model. Importing this module registers the kit's custom layers; importing
    the team's model code (`reference`) registers theirs."""
    if reference is not None:
        user_model.import_module(reference)
    return keras.models.load_model(path)


def float32_copy(model):
    """`model` itself when it computes in float32, else an uncompiled float32 twin with the
    same weights (mixed precision keeps its weights in float32, so they copy exactly).

    What is saved and exported is always float32: ONNX runtimes and the service expect float32
    tensors, and float16 would cost accuracy at inference for no training benefit.
    """
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers):
        return model
    twin = keras.Model.from_config(with_float32_policies(model.get_config()))
    twin.set_weights(model.get_weights())
    return twin


def with_float32_policies(config):
    """A layer config (nested dicts and lists) with every dtype policy set to float32."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: with_float32_policies(value) for key, value in config.items()}
    if isinstance(config, list):
        return [with_float32_policies(value) for value in config]
    return config


def check_compatible(params: TrainParams, dataset: dict) -> None:
    if params.model == "cnn" and dataset["input_kind"] != "image":
        raise UserError(
            "train.model is 'cnn', which needs image data (the bundled 'digits' set); "
            "use train.model: mlp for tabular data"
        )
    if params.early_stopping.monitor == "val_accuracy" and dataset["task"] != "classification":
        raise UserError(
            "train.early_stopping.monitor is 'val_accuracy', but the task is regression; "
            "use val_loss"
        )


def cnn_body(inputs, params: TrainParams, dtype: str):
    hidden = inputs
    for filters in params.cnn.filters:
        hidden = layers.Conv2D(
            filters, params.cnn.kernel_size, padding="same", activation="relu", dtype=dtype
        )(hidden)
        # Pool only while the feature map can still be halved (8x8 digits allow three times).
        if hidden.shape[1] >= 2 and hidden.shape[2] >= 2:
            hidden = layers.MaxPooling2D(dtype=dtype)(hidden)
    hidden = layers.Flatten(dtype=dtype)(hidden)
    hidden = layers.Dropout(params.cnn.dropout_rate, dtype=dtype)(hidden)
    hidden = layers.Dense(params.cnn.dense_units, activation="relu", dtype=dtype)(hidden)
    return layers.Dropout(params.cnn.dropout_rate, dtype=dtype)(hidden)


@keras.saving.register_keras_serializable(package="runwright")
class Standardize(layers.Layer):
    """(x - mean) * scale, with mean and scale fitted on the training split.

    Keras' Normalization layer keeps its statistics as captured tensors, which the ONNX exporter
    turns into extra graph *inputs*; as non-trainable weights they export as constants.
    """

    def build(self, input_shape):
        width = input_shape[-1]
        self.mean = self.add_weight(
            shape=(width,), initializer="zeros", trainable=False, name="mean"
        )
        self.scale = self.add_weight(
            shape=(width,), initializer="ones", trainable=False, name="scale"
        )

    def adapt(self, x: np.ndarray) -> None:
        if not self.built:
            self.build(x.shape)
        std = x.std(axis=0)
        self.mean.assign(x.mean(axis=0))
        # A constant column (e.g. a category never seen in training) passes through unscaled.
        self.scale.assign(np.where(std > 1e-12, 1.0 / np.maximum(std, 1e-12), 1.0))

    def call(self, inputs):
        return (inputs - self.mean) * self.scale


def mlp_body(inputs, params: TrainParams, x_train: np.ndarray, is_image: bool, dtype: str):
    hidden = layers.Flatten()(inputs) if is_image else inputs
    if not is_image:
        # Standardisation lives in the model, so the ONNX file takes raw feature values. It
        # stays float32: raw features (incomes, years) can exceed float16's range of 65504.
        standardize = Standardize(name="standardize")
        standardize.adapt(x_train)
        hidden = standardize(hidden)
    for units in params.mlp.units:
        hidden = layers.Dense(units, activation="relu", dtype=dtype)(hidden)
        hidden = layers.Dropout(params.mlp.dropout_rate, dtype=dtype)(hidden)
    return hidden
