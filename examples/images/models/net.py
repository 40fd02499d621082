"""The team's own image model: `train.model: models/net.py:build` in params.yaml.

A small CNN: each image standardised on its own (a registered custom layer), blocks of
convolution, ReLU and max pooling, then global max pooling: "is there a corner like this
anywhere", whatever the shape's position, and a classifier whose size does not depend on the
image size. `build` gets the shape of one image (height, width, channels), the task, the number
of classes and `train.hyperparameters`; the kit compiles the model (Adam at train.learning_rate)
because it comes uncompiled.
"""

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="shapes")
class ImageStandardization(layers.Layer):
    """Each image to zero mean and unit variance over its own pixels: the shapes come in any
    colour on any background, and this removes brightness and contrast before the first
    convolution, with no statistics from the data set (as tf.image.per_image_standardization)."""

    def call(self, inputs):
        mean = keras.ops.mean(inputs, axis=(1, 2, 3), keepdims=True)
        variance = keras.ops.mean(keras.ops.square(inputs - mean), axis=(1, 2, 3), keepdims=True)
        return (inputs - mean) / keras.ops.sqrt(variance + 1e-3)


def build(input_shape, task, outputs, hyperparameters):
    if task != "classification":
        raise ValueError(f"this model classifies images; the data's task is {task}")
    inputs = keras.Input(shape=input_shape, name="image")
    hidden = ImageStandardization(name="standardize_image")(inputs)
    for filters in hyperparameters.get("filters", [16, 32, 64]):
        hidden = layers.Conv2D(filters, 3, padding="same", activation="relu")(hidden)
        hidden = layers.MaxPooling2D()(hidden)
    hidden = layers.GlobalMaxPooling2D()(hidden)
    hidden = layers.Dropout(hyperparameters.get("dropout_rate", 0.2))(hidden)
    result = layers.Dense(outputs, activation="softmax", name="probabilities")(hidden)
    return keras.Model(inputs, result, name="shapes_net")
