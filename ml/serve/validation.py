"""Request checks on the hot path: orjson and numpy, no per-request pydantic models (which cost
about as much as the rest of a request). Every problem becomes a RequestError with a 4xx status
and a message that names the field and what was expected."""

from __future__ import annotations

import math
import warnings

import numpy as np
import orjson

from ml.data.images import Preprocessing
from ml.serve.model import LoadedModel

NUMERIC_DATATYPES = frozenset(
    f"{kind}{bits}"
    for kind, sizes in (("INT", "8 16 32 64"), ("UINT", "8 16 32 64"), ("FP", "16 32 64"))
    for bits in sizes.split()
)
# `all_finite`'s quick check overflows on large finite values and then checks exactly; NumPy's
# warning about that overflow says nothing to whoever reads the log.
warnings.filterwarnings("ignore", "overflow encountered in dot", RuntimeWarning, __name__)
INTEGERS = {int}
KIND_NAMES = {"U": "text", "S": "text", "b": "true/false", "O": "null, objects or mixed types"}


class RequestError(Exception):
    """A client mistake: answered with `status` and {"error": message}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"the body is not valid JSON: {exc}") from None


def check_batch(rows: int, max_rows: int, where: str) -> None:
    if rows < 1:
        raise RequestError(400, f"{where}: send at least one row")
    if rows > max_rows:
        raise RequestError(
            413, f"{where}: {rows} rows exceed the limit of {max_rows} rows per request"
        )


def numbers(data: object, where: str, integers: bool = False) -> np.ndarray:
    """A (possibly nested) JSON list of numbers as float32; text, booleans, nulls and ragged
    lists are refused. NumPy would silently turn "1.5" or true into numbers."""
    if not isinstance(data, list):
        raise RequestError(400, f"{where} must be a list of numbers, got {json_type(data)}")
    try:
        array = np.array(data)
    except (ValueError, TypeError, OverflowError):
        raise RequestError(400, f"{where} is ragged: every row needs the same length") from None
    allowed = "iu" if integers else "iuf"
    if array.dtype.kind not in allowed:
        found = "fractions" if array.dtype.kind == "f" else KIND_NAMES.get(array.dtype.kind)
        expected = "integers" if integers else "numbers"
        raise RequestError(400, f"{where} must hold only {expected}; it contains {found}")
    # Too large for float32 becomes inf, refused by `finite` (the service silences NumPy's
    # overflow warning once: np.errstate here would cost more than the cast).
    return array.astype(np.float32)


def all_finite(rows: np.ndarray) -> bool:
    """Whether every value of a float32 array is finite, in one BLAS call: NaN and infinity
    carry through a dot product, so a finite x.x means every value is finite. (A float32 x.x
    can also overflow on large finite values: False then, and `finite` checks exactly.) A
    quarter of the cost of a float64 sum."""
    flat = rows.ravel()
    return math.isfinite(np.dot(flat, flat))


def finite(rows: np.ndarray, where: str) -> np.ndarray:
    if all_finite(rows):
        return rows
    good = np.isfinite(rows.reshape(len(rows), -1)).all(axis=1)
    if not good.all():
        bad = int(np.argmin(good))
        raise RequestError(
            400, f"{where}: row {bad} holds NaN, infinity or a number too large for float32"
        )
    return rows


def v2_object(payload: object) -> dict:
    """An Open Inference Protocol v2 request is a JSON object; anything else is refused, and so
    are its optional fields when they have the wrong type (the OpenAPI document promises it)."""
    if not isinstance(payload, dict):
        raise RequestError(400, "an inference request is a JSON object with an 'inputs' list")
    if "id" in payload and not isinstance(payload["id"], str):
        raise RequestError(400, f"'id' must be text, got {json_type(payload['id'])}")
    if "parameters" in payload:
        parameters(payload, "'parameters'")
    return payload


def parameters(container: dict, where: str) -> None:
    """The optional 'parameters' of a request, tensor or output: an object when present."""
    value = container.get("parameters")
    if "parameters" in container and not isinstance(value, dict):
        raise RequestError(400, f"{where} must be an object, got {json_type(value)}")


def v2_rows(payload: object, model: LoadedModel, max_rows: int) -> np.ndarray:
    """The input tensor of an Open Inference Protocol v2 request, checked against the model."""
    inputs = v2_object(payload).get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise RequestError(
            400, f"'inputs' must be a list of one tensor object, named {model.input_name!r}"
        )
    tensor = inputs[0]
    if "parameters" in tensor:  # rarely sent: no call for the common request
        parameters(tensor, "inputs[0].parameters")
    if tensor.get("name") != model.input_name:
        raise RequestError(
            400, f"inputs[0].name must be {model.input_name!r}, got {tensor.get('name')!r}"
        )
    datatype = tensor.get("datatype")
    if not isinstance(datatype, str) or datatype not in NUMERIC_DATATYPES:  # a list: unhashable
        if datatype == "BYTES" and model.preprocessing is not None:
            return v2_images(tensor, model.preprocessing, max_rows)
        hint = ""
        if datatype == "BYTES":
            hint = " (encoded images work for models trained on image files only)"
        raise RequestError(
            400, f"inputs[0].datatype {datatype!r} is not numeric; send 'FP32'{hint}"
        )
    shape = tensor.get("shape")
    if type(shape) is not list or set(map(type, shape)) != INTEGERS:  # 8.0, true: no sizes
        raise RequestError(
            400, f"inputs[0].shape must be a list of integers like {expected_shape(model)}"
        )
    if not shape or tuple(shape[1:]) != model.row_shape:
        raise RequestError(
            400, f"inputs[0].shape {shape} does not match the model's {expected_shape(model)}"
        )
    check_batch(shape[0], max_rows, "inputs[0].shape[0]")
    rows = numbers(tensor.get("data"), "inputs[0].data", integers=datatype[0] in "IU")
    if rows.size != math.prod(shape):
        raise RequestError(
            400,
            f"inputs[0].data holds {rows.size} numbers but shape {shape} needs {math.prod(shape)}",
        )
    return finite(rows.reshape(shape), "inputs[0].data")


def v2_images(tensor: dict, preprocessing: Preprocessing, max_rows: int) -> np.ndarray:
    """The rows of a BYTES tensor: shape [N] (or [N, 1]), `data` N base64 PNG or JPEG files,
    flat or nested one per row, for a model trained on image files."""
    shape = tensor.get("shape")
    if type(shape) is not list or set(map(type, shape)) != {int} or shape[1:] not in ([], [1]):
        raise RequestError(
            400, f"inputs[0].shape must be [N] for N encoded images (datatype BYTES), got {shape}"
        )
    check_batch(shape[0], max_rows, "inputs[0].shape[0]")
    data = tensor.get("data")
    if not isinstance(data, list):
        raise RequestError(
            400, f"inputs[0].data must be a list of base64 images, got {json_type(data)}"
        )
    flat = [value for item in data for value in (item if isinstance(item, list) else [item])]
    if len(flat) != shape[0]:
        raise RequestError(
            400, f"inputs[0].data holds {len(flat)} images but shape {shape} needs {shape[0]}"
        )
    from ml.serve import images  # Pillow: loaded with the first image a worker decodes

    return images.decode_rows(
        [(f"inputs[0].data[{index}]", value) for index, value in enumerate(flat)], preprocessing
    )


def v1_images(instances: list[dict], model: LoadedModel) -> np.ndarray:
    """The rows of {"b64": "<base64 PNG or JPEG>"} instances, for a model trained on images."""
    preprocessing = image_preprocessing(model, "instances[0].b64")
    encoded = []
    for index, instance in enumerate(instances):
        if instance.keys() != {"b64"}:
            raise RequestError(
                400,
                f'instances[{index}] must be {{"b64": "<base64 PNG or JPEG>"}} (an image '
                f"file, base64-encoded) or a list shaped {list(model.row_shape)}; got the keys "
                f"{sorted(map(str, instance))}",
            )
        encoded.append((f"instances[{index}].b64", instance["b64"]))
    from ml.serve import images  # Pillow: loaded with the first image a worker decodes

    return images.decode_rows(encoded, preprocessing)


def image_preprocessing(model: LoadedModel, where: str) -> Preprocessing:
    """The model's decoding rule for encoded images; a model without one refuses them."""
    if model.preprocessing is None:
        takes = f"rows shaped {list(model.row_shape)}"
        if model.encoding:
            takes = "named features or rows of numbers"
        raise RequestError(
            400,
            f"{where}: encoded images work for models trained on image files; this model takes "
            f"{takes}",
        )
    return model.preprocessing


def expected_shape(model: LoadedModel) -> str:
    return f"[batch, {', '.join(map(str, model.row_shape))}]"


def v1_rows(payload: object, model: LoadedModel, max_rows: int, named=None) -> np.ndarray:
    """The rows of a KServe v1 {"instances": [...]} request: numbers shaped like one input row
    (or flat), or, for tabular models, objects of named features encoded by `named`."""
    if not isinstance(payload, dict) or "instances" not in payload:
        raise RequestError(400, 'a v1 predict request is a JSON object {"instances": [...]}')
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise RequestError(400, f"'instances' must be a list, got {json_type(instances)}")
    check_batch(len(instances), max_rows, "instances")
    objects = [isinstance(instance, dict) for instance in instances]
    if any(objects):
        if not all(objects):
            raise RequestError(400, "'instances' mixes objects and lists; send one kind")
        if "b64" in instances[0] or (named is None and model.preprocessing is not None):
            return v1_images(instances, model)
        if named is None:
            raise RequestError(
                400,
                "named features work for tabular models only; send each instance as a "
                f"list shaped {list(model.row_shape)}",
            )
        return finite(named.rows(instances), "instances")
    rows = numbers(instances, "instances")
    if rows.shape[1:] != model.row_shape:
        if rows.ndim != 2 or rows.shape[1] != model.row_size:
            raise RequestError(
                400,
                f"each instance must be shaped {list(model.row_shape)} (or a flat list of "
                f"{model.row_size} numbers); got shape {list(rows.shape[1:])}",
            )
        rows = rows.reshape(len(rows), *model.row_shape)
    return finite(rows, "instances")


def json_type(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")
