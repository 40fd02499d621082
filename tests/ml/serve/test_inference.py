"""The inference endpoints answered in front of the router, in-process: which paths they take, the
405 with its Allow header, a failing handler answered as a JSON 500, and their metrics. (The
protocols themselves, over HTTP against the running service, are in test_app.py.)"""

from __future__ import annotations

import asyncio
import logging

import httpx
import numpy as np
import pytest

from ml.config import ServeParams
from ml.serve import inference
from ml.serve.app import create_app
from ml.serve.command import settings_for
from ml.serve.inference import InferenceRoutes
from ml.serve.service import Service


@pytest.fixture(scope="module")
def service(digits_onnx) -> Service:
    return Service(settings_for(ServeParams(model_name="digits"), digits_onnx, None))


async def not_found(scope, receive, send) -> None:
    """Stands for the router behind the inference routes."""
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"behind"})


class Client:
    """Requests straight to an ASGI app, in-process."""

    def __init__(self, app) -> None:
        self.app = app

    def request(self, method: str, path: str, **options) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, path, **options)

        return asyncio.run(send())

    def post(self, path: str, **options) -> httpx.Response:
        return self.request("POST", path, **options)


@pytest.fixture(scope="module")
def client(service) -> Client:
    return Client(InferenceRoutes(not_found, service))


def requests_counted(service: Service, endpoint: str, status: int) -> float:
    name = "runwright_request_duration_seconds_count"
    labels = {"endpoint": endpoint, "status": str(status)}
    service.metrics.flush()
    return service.metrics.registry.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v2/models/digits/infer", ("v2_infer", ("digits",))),
        ("/v2/models/digits/versions/abc/infer", ("v2_infer", ("digits", "abc"))),
        ("/v1/models/digits:predict", ("v1_predict", ("digits",))),
        ("/v2/models//infer", None),
        ("/v2/models/a/b/infer", None),
        ("/v2/models/a/versions//infer", None),
        ("/v2/models/digits/ready", None),
        ("/v1/models/:predict", None),
        ("/v1/models/a/b:predict", None),
        ("/v1/models/digits", None),
        ("/metrics", None),
    ],
)
def test_only_the_inference_paths_are_answered_in_front(path, expected):
    found = inference.route(path)
    assert (found[1:] if found else None) == expected


def test_remembered_routes_are_bounded_and_match_the_router(service):
    routes = InferenceRoutes(not_found, service)
    paths = [f"/v2/models/m{i}/infer" for i in range(inference.ROUTES_KEPT + 50)]
    paths += ["/v2/models/a/b/infer", "/metrics"]
    for _ in range(2):  # the second time from what was remembered, where it was
        assert [routes.route(path) for path in paths] == [inference.route(p) for p in paths]
    assert len(routes.routes) == inference.ROUTES_KEPT


def test_a_prediction_answers_json_with_its_length(client):
    rows = np.zeros((2, 8, 8, 1)).tolist()
    response = client.post("/v1/models/digits:predict", json={"instances": rows})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert len(response.json()["predictions"]) == 2


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_405_with_the_allow_header(client, method):
    response = client.request(method, "/v2/models/digits/infer")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"error": f"{method} is not allowed; use POST"}


@pytest.mark.parametrize(
    "path",
    ["/v2/models/other/infer", "/v2/models/other/versions/1/infer", "/v1/models/other:predict"],
)
def test_another_model_is_404_whatever_its_body(client, path):
    response = client.post(path, content=b"x" * 100, headers={"content-type": "text/plain"})
    assert response.status_code == 404
    assert response.json() == {"error": "model 'other' not found; this service serves 'digits'"}


def test_another_version_is_404_whatever_its_body(client):
    response = client.post(
        "/v2/models/digits/versions/nope/infer",
        content=b"x" * 100,
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 404
    assert response.json()["error"].startswith("version 'nope' of 'digits' not found; serving ")


def test_every_other_path_goes_behind(client):
    assert client.post("/v2/models/digits/ready").content == b"behind"
    assert client.request("GET", "/").content == b"behind"


def test_framework_routes_answer_405_with_their_allow_header(digits_onnx):
    app = create_app(settings_for(ServeParams(model_name="digits"), digits_onnx, None))
    response = Client(app).post("/v2/health/ready")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert response.json() == {"error": "Method Not Allowed"}


def test_inference_requests_are_counted_by_endpoint_and_status(client, service):
    before = requests_counted(service, "v1_predict", 400)
    response = client.post("/v1/models/digits:predict", json={"instances": "x"})
    assert response.status_code == 400
    assert response.json() == {"error": "'instances' must be a list, got text"}
    assert requests_counted(service, "v1_predict", 400) == before + 1


def test_a_failing_handler_is_a_logged_json_500_counted_in_the_metrics(
    client, service, monkeypatch, caplog
):
    def broken(*args):
        raise RuntimeError("bug in the model wrapper")

    monkeypatch.setattr(service, "predict", broken)
    rows = np.zeros((1, 8, 8, 1)).tolist()
    with caplog.at_level(logging.ERROR, logger="ml.serve"):
        response = client.post("/v1/models/digits:predict", json={"instances": rows})
    assert response.status_code == 500
    assert response.json() == {"error": "internal server error; see the service's log"}
    assert "POST /v1/models/digits:predict failed" in caplog.text
    assert "bug in the model wrapper" in caplog.text
    assert requests_counted(service, "v1_predict", 500) == 1
