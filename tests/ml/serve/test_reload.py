"""Hot reload: a new model file is swapped in by every worker without one failed request, and a
file that fails to load or verify leaves the current model serving."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections import Counter

import httpx
import pytest

from ml.serve.model import load
from ml.serve.reload import ModelHolder
from tests.serving import linear_model, running_service, write_serve_params

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def other_model(prepared_digits, tmp_path_factory):
    """The same kind of model with different weights, hence another version."""
    return linear_model(
        prepared_digits, tmp_path_factory.mktemp("other") / "model.onnx", weight_scale=0.5
    )


def replace_atomically(source, target):
    temporary = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)


def test_holder_swaps_keeps_and_skips(digits_onnx, other_model, tmp_path):
    served = tmp_path / "model.onnx"
    shutil.copyfile(digits_onnx, served)
    events = []
    holder = ModelHolder(str(served), 1, 60, on_reload=lambda *event: events.append(event[0]))
    first = holder.current
    assert holder.check() is False  # nothing changed
    replace_atomically(other_model, served)
    assert holder.check() is True and holder.current.sha256 == load(other_model).sha256
    served.write_bytes(b"half a model")  # a copy in progress, or a broken file
    assert holder.check() is False and holder.current.sha256 == load(other_model).sha256
    assert holder.check() is False  # the same broken file is not loaded again
    replace_atomically(digits_onnx, served)
    assert holder.check() is True and holder.current.sha256 == first.sha256
    assert events == ["loaded", "failed", "loaded"]


class Load:
    """Threads sending v2 requests until stopped, recording every outcome."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.versions: list[str] = []
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def run(self) -> None:
        request = {
            "inputs": [
                {"name": "image", "shape": [1, 8, 8, 1], "datatype": "FP32", "data": [0.25] * 64}
            ]
        }
        with httpx.Client(base_url=self.url, timeout=10) as client:
            deadline = time.monotonic() + 60  # bounded even if the test forgets to stop
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    response = client.post("/v2/models/digits/infer", json=request)
                except httpx.HTTPError as exc:
                    with self.lock:
                        self.failures.append(repr(exc))
                    continue
                with self.lock:
                    if response.status_code == 200:
                        self.versions.append(response.json()["model_version"])
                    else:
                        self.failures.append(f"{response.status_code} {response.text}")

    def wait_for(self, version: str, timeout: float = 10.0) -> None:
        """Until the last 20 answers all come from `version` (every worker has swapped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                recent = self.versions[-20:]
            if len(recent) == 20 and set(recent) == {version}:
                return
            time.sleep(0.05)
        raise AssertionError(f"still not serving {version}: {Counter(recent)}")


def test_swaps_under_concurrent_load_without_a_failed_request(digits_onnx, other_model, tmp_path):
    served = tmp_path / "model.onnx"
    shutil.copyfile(digits_onnx, served)
    first, second = load(digits_onnx).version, load(other_model).version
    params = write_serve_params(tmp_path / "params.yaml", reload_interval_seconds=0.1)
    with running_service(served, params, tmp_path / "log", workers=2) as url:
        load_generator = Load(url)
        for thread in load_generator.threads:
            thread.start()
        try:
            load_generator.wait_for(first)
            replace_atomically(other_model, served)
            load_generator.wait_for(second)
            served.write_bytes(b"\x08\x07broken")  # unusable: every worker keeps `second`
            time.sleep(1.0)
            load_generator.wait_for(second)
            replace_atomically(digits_onnx, served)
            load_generator.wait_for(first)
        finally:
            load_generator.stop.set()
            for thread in load_generator.threads:
                thread.join()
        metrics = httpx.get(f"{url}/metrics").text
    assert load_generator.failures == []
    counts = Counter(load_generator.versions)
    assert set(counts) == {first, second}
    assert sum(counts.values()) > 200
    # Workers refused the broken file and kept their model; the swaps were loaded. (Exact counts
    # vary: a worker may catch the file empty mid-write, or see a swap only after the next one.)
    assert reloads(metrics, "failed") >= 1 and reloads(metrics, "loaded") >= 2
    assert f'runwright_model_info{{model="digits",version="{first}"}} 1.0' in metrics
    assert f'runwright_model_info{{model="digits",version="{second}"}} 0.0' in metrics


def reloads(metrics: str, result: str) -> float:
    found = re.search(rf'runwright_model_reloads_total{{result="{result}"}} ([\d.]+)', metrics)
    return float(found.group(1)) if found else 0.0
