"""The smoke test a deployment must pass, against the real service (`python -m ml.serve`) on
loopback: the right model passes every check; another model, a service that is down, or one that
answers something else than the protocols fails with every problem named. (Rollback after a
failed smoke test is in test_flow.py.)"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from ml.config import SmokeParams
from ml.deploy.smoke import SmokeTestFailed, smoke_test, wait_for_version
from ml.onnx_model import finalize, read_metadata
from tests.loopback_http import LoopbackServer, reply
from tests.serving import linear_model, running_service, write_serve_params

SETTINGS = SmokeParams(timeout_seconds=10)


@pytest.fixture(scope="module")
def service(digits_onnx, tmp_path_factory):
    """The digits model served under the name `digits`; yields its URL."""
    root = tmp_path_factory.mktemp("smoke")
    params = write_serve_params(root / "params.yaml")
    with running_service(digits_onnx, params, root / "service.log") as url:
        yield url


@pytest.fixture(scope="module")
def constant_model(prepared_digits, tmp_path_factory) -> Path:
    """A model that predicts the same class for every row."""
    path = tmp_path_factory.mktemp("constant") / "model.onnx"
    return linear_model(prepared_digits, path, weight_scale=0.0)


def version_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_the_deployed_model_passes_every_check(service, digits_onnx):
    passed = smoke_test(service, "digits", digits_onnx, SETTINGS)
    assert passed[0] == "ready"
    assert passed[1].startswith("v2 infer on 32 examples matches local onnxruntime")
    assert passed[2].startswith("v1 predict: ") and "of 32 held-out examples right" in passed[2]
    assert passed[3] == "web page served"


def test_a_service_serving_another_model_fails(service, digits_onnx, constant_model):
    with pytest.raises(SmokeTestFailed) as caught:
        smoke_test(service, "digits", constant_model, SETTINGS)
    # Only the v2 check compares versions and outputs; v1 scores the served (good) model.
    assert str(caught.value) == f"v2 infer came from version {version_of(digits_onnx)}"


def test_too_few_right_answers_fail(service, digits_onnx):
    # The linear model gets about 95 % of the digits right: some of the 32 examples are wrong.
    strict = SmokeParams(timeout_seconds=10, min_accuracy=1.0)
    expected = (
        r"^accuracy on the 32 held-out examples is 0\.\d\d, below deploy\.smoke\.min_accuracy 1"
    )
    with pytest.raises(SmokeTestFailed, match=expected):
        smoke_test(service, "digits", digits_onnx, strict)


def test_a_service_that_is_down_fails_every_check(digits_onnx, closed_port):
    with pytest.raises(SmokeTestFailed) as caught:
        smoke_test(f"http://127.0.0.1:{closed_port}", "digits", digits_onnx, SETTINGS)
    problems = str(caught.value).split("; ")
    assert len(problems) == 4 and all(p.startswith("ConnectError: ") for p in problems)


class Impostor(LoopbackServer):
    """Ready, but answers every model request with a JSON list and the page with JSON."""

    def handle(self, request, method: str) -> None:
        reply(request, 200, {"ready": True} if request.path.endswith("ready") else [1, 2])


def test_answers_of_another_shape_are_problems_not_crashes(digits_onnx):
    with Impostor() as impostor, pytest.raises(SmokeTestFailed) as caught:
        smoke_test(impostor.url, "digits", digits_onnx, SETTINGS)
    v2, v1, page = str(caught.value).split("; ")
    assert v2.startswith("TypeError: ") and v1.startswith("TypeError: ")
    assert page == "the web page answered 200"  # answered, but not with HTML


def test_wait_for_version_returns_once_the_version_is_served(service, digits_onnx):
    wait_for_version(service, "digits", version_of(digits_onnx), timeout=10, workers=2)


def test_wait_for_version_names_what_is_served_instead(service, digits_onnx, closed_port):
    served = version_of(digits_onnx)
    with pytest.raises(SmokeTestFailed) as caught:
        wait_for_version(service, "digits", "000000000000", timeout=0.5)
    assert str(caught.value) == (
        f"{service} did not serve digits version 000000000000 within 0.5 s (last: {served})"
    )
    with pytest.raises(SmokeTestFailed, match=r"\(last: HTTP 404\)"):
        wait_for_version(service, "iris", served, timeout=0.3)
    with pytest.raises(SmokeTestFailed, match=r"\(last: ConnectError: "):
        wait_for_version(f"http://127.0.0.1:{closed_port}", "digits", served, timeout=0.3)


def sampled_rows(directory: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(directory.glob("inputs-*.jsonl*"))
        for line in path.read_text().splitlines()
    ]


def test_the_smoke_tests_requests_are_not_sampled_as_served_inputs(digits_onnx, tmp_path):
    """The drift monitor compares the sampled inputs with the training data; the smoke test's
    held-out examples (64 rows a deploy) are no served traffic and would bias it."""
    params = write_serve_params(tmp_path / "params.yaml", sample_every=1)
    samples = tmp_path / "samples"
    log = tmp_path / "service.log"
    with running_service(digits_onnx, params, log, "--samples", str(samples)) as url:
        smoke_test(url, "digits", digits_onnx, SETTINGS)
        served = np.full((3, 8, 8, 1), 0.25).tolist()
        answer = httpx.post(f"{url}/v1/models/digits:predict", json={"instances": served})
        assert answer.status_code == 200, answer.text
        # Lines reach the files within a reload interval (1 s); the smoke test's came first.
        deadline = time.monotonic() + 10
        while len(sampled_rows(samples)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [row["x"] for row in sampled_rows(samples)] == [[0.25] * 64] * 3


def served_image_model(model: Path, root: Path):
    """The image model `model` served as `shapes` on loopback (a context manager)."""
    params = write_serve_params(root / "params.yaml", model_name="shapes")
    return running_service(model, params, root / "service.log")


def test_an_image_model_is_checked_through_the_services_image_path(image_onnx, tmp_path):
    """Its examples are PNG files: sent as v1 b64 instances and a v2 BYTES tensor, decoded by
    the service, answered as onnxruntime answers the same files decoded here, and scored."""
    examples = read_metadata(image_onnx)["examples"]
    count = len(examples["images"])
    assert count >= 5 and "inputs" not in examples
    with served_image_model(image_onnx, tmp_path) as url:
        passed = smoke_test(url, "shapes", image_onnx, SETTINGS)
    assert passed[1].startswith(f"v2 infer on {count} example images matches local onnxruntime")
    accuracy = re.fullmatch(
        rf"v1 predict: (\d+)% of {count} held-out example images right", passed[2]
    )
    assert accuracy and int(accuracy.group(1)) >= 50, passed


def test_an_image_model_that_answers_wrongly_fails(image_onnx, tmp_path):
    """A model that calls every image the same class gets about a third of them right."""
    prepared = image_onnx.parent / "prepared"  # where the `image_onnx` fixture prepared it
    constant = linear_model(prepared, tmp_path / "constant.onnx", weight_scale=0.0)
    with served_image_model(constant, tmp_path) as url, pytest.raises(SmokeTestFailed) as caught:
        smoke_test(url, "shapes", constant, SETTINGS)
    below = r"accuracy on the \d+ held-out examples is 0\.\d\d, below deploy\.smoke\.min_accuracy"
    assert re.fullmatch(below + r" 0\.5", str(caught.value)), caught.value


def test_an_image_model_file_without_examples_is_checked_on_a_blank_image(image_onnx, tmp_path):
    """Image models exported before their examples were kept as PNG kept none above 73x73."""
    older = tmp_path / "older.onnx"
    shutil.copy(image_onnx, older)
    metadata = read_metadata(older)
    finalize(
        older, metadata["output_name"], metadata | {"examples": {"inputs": [], "targets": []}}
    )
    with served_image_model(older, tmp_path) as url:
        passed = smoke_test(url, "shapes", older, SETTINGS)
    assert passed[1].startswith("v2 infer on 1 examples matches local onnxruntime")
    assert passed[2] == "v1 predict returned 1 values"
