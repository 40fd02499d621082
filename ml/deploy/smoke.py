"""The smoke test a deployment passes before it becomes the champion: the service answers, serves
exactly the registered file, gives the same outputs as onnxruntime run locally on the model's
held-out examples, and gets enough of them right.

An image model's examples are PNG files (ml/reference.py); they are sent as encoded images (v1
`{"b64": ...}` instances, a v2 BYTES tensor), so the service's own decoding is checked, against
onnxruntime on the same files decoded here by the same rule. A model file without examples
(image models exported before they were kept as PNG) is checked on one blank input, without
accuracy."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from ml.config import SmokeParams
from ml.errors import UserError


class SmokeTestFailed(UserError):
    """The deployed service is unhealthy or wrong; the message lists every failed check."""


@dataclass(frozen=True)
class Examples:
    """The held-out examples as the model takes them (`rows`), as v1 instances and as a v2
    input tensor, with their true targets (None when there are none to score)."""

    rows: np.ndarray
    instances: list
    tensor: dict
    targets: list | None


def examples_of(model) -> Examples:
    """What the smoke test sends: the model's saved examples, or one blank row without any."""
    from ml.data.images import decode

    saved = model.metadata.get("examples") or {}
    encoded = saved.get("images") or []
    if encoded and model.preprocessing is not None:
        rows = np.stack([decode(base64.b64decode(text), model.preprocessing) for text in encoded])
        tensor = {"shape": [len(encoded)], "datatype": "BYTES", "data": encoded}
        instances: list = [{"b64": text} for text in encoded]
        return Examples(rows, instances, {"name": model.input_name} | tensor, saved["targets"])
    rows = np.asarray(saved.get("inputs") or [], dtype=np.float32)
    targets = saved.get("targets")
    if rows.size == 0:
        rows, targets = np.zeros((1, *model.row_shape), dtype=np.float32), None
    tensor = {"shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}
    return Examples(rows, rows.tolist(), {"name": model.input_name} | tensor, targets)


def wait_for_version(url: str, name: str, version: str, timeout: float, workers: int = 1) -> None:
    """Until `url` answers with `version` on 2 x workers consecutive metadata requests (each
    worker reloads on its own), or raise after `timeout` seconds naming what it serves."""
    deadline = time.monotonic() + timeout
    streak, last = 0, "no answer"
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                response = client.get(f"/v2/models/{name}")
                served = response.json()["versions"][0] if response.status_code == 200 else None
                last = served or f"HTTP {response.status_code}"
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                served, last = None, f"{type(exc).__name__}: {exc}"
            streak = streak + 1 if served == version else 0
            if streak >= 2 * workers:
                return
            time.sleep(0.1)
    raise SmokeTestFailed(
        f"{url} did not serve {name} version {version} within {timeout:g} s (last: {last})"
    )


def smoke_test(url: str, name: str, model_file: Path, settings: SmokeParams) -> list[str]:
    """Run the checks; return one line per passed check or raise SmokeTestFailed."""
    from ml.serve.model import load
    from ml.serve.sampling import CHECK_HEADER

    model = load(model_file)
    examples = examples_of(model)
    expected = model.predict(examples.rows)
    passed, problems = [], []
    # Marked as a check: the service answers, but does not sample these rows as served inputs.
    headers = {CHECK_HEADER: "smoke-test"}
    with httpx.Client(base_url=url, timeout=settings.timeout_seconds, headers=headers) as client:
        checks = (
            lambda: check_ready(client),
            lambda: check_v2(client, name, model, examples, expected, settings),
            lambda: check_v1(client, name, model, examples, settings),
            lambda: check_page(client),
        )
        for check in checks:
            try:
                passed.append(check())
            except SmokeTestFailed as exc:
                problems.append(str(exc))
            # Unreachable, or an answer of another shape than the protocol's.
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                problems.append(f"{type(exc).__name__}: {exc}")
    if problems:
        raise SmokeTestFailed("; ".join(problems))
    return passed


def check_ready(client: httpx.Client) -> str:
    response = client.get("/v2/health/ready")
    if response.status_code != 200:
        raise SmokeTestFailed(f"/v2/health/ready answered {response.status_code}")
    return "ready"


def check_v2(client, name, model, examples: Examples, expected, settings: SmokeParams) -> str:
    response = client.post(f"/v2/models/{name}/infer", json={"inputs": [examples.tensor]})
    if response.status_code != 200:
        raise SmokeTestFailed(f"v2 infer answered {response.status_code}: {response.text[:200]}")
    body = response.json()
    if body["model_version"] != model.version:
        raise SmokeTestFailed(f"v2 infer came from version {body['model_version']}")
    output = body["outputs"][0]
    served = np.asarray(output["data"], dtype=np.float32).reshape(output["shape"])
    difference = (
        float(np.max(np.abs(served - expected))) if served.shape == expected.shape else None
    )
    if difference is None or not difference <= settings.max_abs_diff:
        raise SmokeTestFailed(
            f"v2 outputs differ from local onnxruntime: shape {list(served.shape)}, "
            f"max |diff| {difference} > {settings.max_abs_diff}"
        )
    return (
        f"v2 infer on {len(examples.rows)} {kind(examples)} matches local onnxruntime "
        f"(max |diff| {difference:.1e})"
    )


def kind(examples: Examples) -> str:
    """How the examples were sent, for the checks' lines."""
    return "example images" if examples.tensor["datatype"] == "BYTES" else "examples"


def check_v1(client, name, model, examples: Examples, settings: SmokeParams) -> str:
    rows, targets = examples.rows, examples.targets
    response = client.post(f"/v1/models/{name}:predict", json={"instances": examples.instances})
    if response.status_code != 200:
        raise SmokeTestFailed(f"v1 predict answered {response.status_code}: {response.text[:200]}")
    predictions = response.json()["predictions"]
    if len(predictions) != len(rows):
        raise SmokeTestFailed(f"v1 predict returned {len(predictions)} rows for {len(rows)}")
    if not model.class_labels or not targets:
        return f"v1 predict returned {len(predictions)} values"
    accuracy = float(np.mean([p["label"] == t for p, t in zip(predictions, targets, strict=True)]))
    if accuracy < settings.min_accuracy:
        raise SmokeTestFailed(
            f"accuracy on the {len(targets)} held-out examples is {accuracy:.2f}, below "
            f"deploy.smoke.min_accuracy {settings.min_accuracy}"
        )
    return f"v1 predict: {accuracy:.0%} of {len(targets)} held-out {kind(examples)} right"


def check_page(client: httpx.Client) -> str:
    response = client.get("/")
    if response.status_code != 200 or "text/html" not in response.headers.get("content-type", ""):
        raise SmokeTestFailed(f"the web page answered {response.status_code}")
    return "web page served"
