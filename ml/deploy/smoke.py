"""The smoke test a deployment passes before it becomes the champion: the service answers, serves
exactly the registered file, gives the same outputs as onnxruntime run locally on the model's
held-out examples, and gets enough of them right."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np

from ml.config import SmokeParams
from ml.errors import UserError


class SmokeTestFailed(UserError):
    """The deployed service is unhealthy or wrong; the message lists every failed check."""


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
    examples = model.metadata.get("examples") or {}
    rows = np.asarray(examples.get("inputs") or [], dtype=np.float32)
    if rows.size == 0:
        rows = np.zeros((1, *model.row_shape), dtype=np.float32)
    expected = model.predict(rows)
    passed, problems = [], []
    # Marked as a check: the service answers, but does not sample these rows as served inputs.
    headers = {CHECK_HEADER: "smoke-test"}
    with httpx.Client(base_url=url, timeout=settings.timeout_seconds, headers=headers) as client:
        checks = (
            lambda: check_ready(client),
            lambda: check_v2(client, name, model, rows, expected, settings),
            lambda: check_v1(client, name, model, rows, examples.get("targets"), settings),
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


def check_v2(client, name, model, rows, expected, settings: SmokeParams) -> str:
    request = {
        "inputs": [
            {
                "name": model.input_name,
                "shape": list(rows.shape),
                "datatype": "FP32",
                "data": rows.ravel().tolist(),
            }
        ]
    }
    response = client.post(f"/v2/models/{name}/infer", json=request)
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
        f"v2 infer on {len(rows)} examples matches local onnxruntime (max |diff| {difference:.1e})"
    )


def check_v1(client, name, model, rows, targets, settings: SmokeParams) -> str:
    response = client.post(f"/v1/models/{name}:predict", json={"instances": rows.tolist()})
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
    return f"v1 predict: {accuracy:.0%} of {len(targets)} held-out examples right"


def check_page(client: httpx.Client) -> str:
    response = client.get("/")
    if response.status_code != 200 or "text/html" not in response.headers.get("content-type", ""):
        raise SmokeTestFailed(f"the web page answered {response.status_code}")
    return "web page served"
