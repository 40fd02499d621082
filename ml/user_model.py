"""A team's own model: import the build function `train.model` names, call it, check what it
returns, and compile it for the task unless it came compiled.

The function is called as `build(input_shape, task, outputs, hyperparameters)`: the shape of one
example (a tuple), "classification" or "regression", the number of classes (1 for regression)
and `train.hyperparameters`. It returns a `keras.Model` with one input of that shape and one
output of shape (outputs,): class probabilities (a softmax) or the predicted value.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

import keras

from ml.errors import UserError
from ml.model_reference import Reference

# Files are imported under this package name, so they cannot shadow an installed module.
FILE_MODULE_PREFIX = "runwright_user_model"


class ModelCodeError(UserError):
    """The referenced build function is missing, fails, or returns the wrong kind of model."""


def import_module(reference: Reference) -> ModuleType:
    """The module holding the build function, imported once per process. Importing it also
    registers its custom layers with Keras, which loading a saved model needs."""
    if reference.module is not None:
        try:
            return importlib.import_module(reference.module)
        except ImportError as exc:
            raise ModelCodeError(f"train.model {reference.text!r}: cannot import: {exc}") from None
    path = Path(str(reference.path)).resolve()
    name = f"{FILE_MODULE_PREFIX}.{'_'.join(Path(str(reference.path)).with_suffix('').parts)}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ModelCodeError(f"train.model {reference.text!r}: no such file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ModelCodeError(
            f"train.model {reference.text!r}: importing {reference.path} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return module


def build_function(reference: Reference):
    function = getattr(import_module(reference), reference.function, None)
    if not callable(function):
        raise ModelCodeError(
            f"train.model {reference.text!r}: {reference.where} has no function "
            f"{reference.function!r}"
        )
    try:
        inspect.signature(function).bind((1,), "classification", 2, {})
    except TypeError as exc:
        raise ModelCodeError(
            f"train.model {reference.text!r}: {reference.function} must accept "
            f"(input_shape, task, outputs, hyperparameters): {exc}"
        ) from None
    except ValueError:
        pass  # no signature to inspect (a builtin or C function): calling it will tell
    return function


def build(
    reference: Reference,
    input_shape: tuple[int, ...],
    task: str,
    outputs: int,
    hyperparameters: dict,
) -> keras.Model:
    """The team's model, checked against the data: one input of `input_shape`, one output of
    `outputs` values per example. Not compiled yet when the function did not compile it."""
    function = build_function(reference)
    where = f"train.model {reference.text!r}"
    try:
        model = function(tuple(input_shape), task, outputs, dict(hyperparameters))
    except Exception as exc:
        raise ModelCodeError(
            f"{where}: {reference.function}() failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(model, keras.Model):
        raise ModelCodeError(
            f"{where}: {reference.function}() returned {type(model).__name__}, not a keras.Model"
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelCodeError(
            f"{where}: the model has {len(model.inputs)} inputs and {len(model.outputs)} "
            "outputs; the kit trains, exports and serves models with one of each"
        )
    check_shape(where, "input", tuple(model.inputs[0].shape[1:]), tuple(input_shape))
    check_shape(where, f"output for {task}", tuple(model.outputs[0].shape[1:]), (outputs,))
    return model


def check_shape(where: str, what: str, actual: tuple, expected: tuple) -> None:
    matches = len(actual) == len(expected) and all(
        a is None or a == e for a, e in zip(actual, expected, strict=True)
    )
    if not matches:
        raise ModelCodeError(
            f"{where}: the model's {what} has shape {list(actual)} per example, "
            f"the data needs {list(expected)}"
        )
