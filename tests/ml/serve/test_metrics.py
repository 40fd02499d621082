"""Prometheus metrics of the service, in one process: a fixed label per route, errors counted by
status, the served version flagged, and every request timed by the ASGI middleware, including
one whose handler fails. (/metrics of the running service is read in test_bad_inputs.py and
test_reload.py.)"""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from ml.serve.metrics import Metrics, MetricsMiddleware, endpoint_of


@pytest.fixture
def metrics(monkeypatch) -> Metrics:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    return Metrics()


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    metrics.flush()
    return metrics.registry.get_sample_value(name, labels)


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/v2/models/digits/infer", "v2_infer"),
        ("/v2/models/any-name-at-all/versions/3/infer", "v2_infer"),
        ("/v2/models/digits", "v2_model"),
        ("/v2/models/digits/ready", "v2_model"),
        ("/v1/models/digits:predict", "v1_predict"),
        ("/v1/models", "v1_model"),
        ("/v2/health/ready", "health"),
        ("/v2", "health"),
        ("/metrics", "metrics"),
        ("/", "page"),
        ("/wp-admin/login.php", "other"),  # scanners do not add series
    ],
)
def test_every_path_maps_to_one_of_a_few_labels(path, endpoint):
    assert endpoint_of(path) == endpoint


def test_requests_are_counted_by_status_and_errors_only_when_they_are(metrics):
    metrics.observe("v1_predict", 200, 0.001)
    metrics.observe("v1_predict", 200, 0.002)
    metrics.observe("v1_predict", 400, 0.0005)
    count = "runwright_request_duration_seconds_count"
    assert value(metrics, count, endpoint="v1_predict", status="200") == 2
    assert value(metrics, count, endpoint="v1_predict", status="400") == 1
    errors = "runwright_request_errors_total"
    assert value(metrics, errors, endpoint="v1_predict", status="400") == 1
    assert value(metrics, errors, endpoint="v1_predict", status="200") is None


def test_only_the_served_version_is_flagged(metrics):
    metrics.serving("digits", "aaa", None)
    metrics.serving("digits", "bbb", "aaa")
    assert value(metrics, "runwright_model_info", model="digits", version="aaa") == 0
    assert value(metrics, "runwright_model_info", model="digits", version="bbb") == 1
    text, content_type = metrics.render()
    assert b'runwright_model_info{model="digits",version="bbb"} 1.0' in text
    assert content_type.startswith("text/plain")


def test_tallies_reach_prometheus_as_observations_would(metrics):
    """The request path tallies in memory; a flush writes what Histogram.observe would have."""
    direct = Metrics()
    for seconds in (0.0001, 0.0005, 0.003, 0.7, 9.0):
        metrics.observe("v2_infer", 400, seconds)
        direct.latency.labels("v2_infer", "400").observe(seconds)
    direct.errors.labels("v2_infer", "400").inc(5)
    metrics.predicted(3)
    metrics.predicted(4)
    assert metrics.registry.get_sample_value("runwright_predicted_rows_total") == 0
    metrics.flush()
    metrics.flush()  # nothing new: nothing counted twice
    assert metrics.registry.get_sample_value("runwright_predicted_rows_total") == 7

    def samples(registry) -> dict:
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in registry.collect()
            if family.name in ("runwright_request_duration_seconds", "runwright_request_errors")
            for sample in family.samples
            if not sample.name.endswith("_created")
        }

    assert samples(metrics.registry) == samples(direct.registry)
    assert metrics.render()[0].count(b'status="400"') > 10


def call(app, path: str) -> list[dict]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "path": path}, receive, send))
    return sent


def test_the_middleware_times_each_request_with_its_final_status(metrics):
    async def teapot(scope, receive, send):
        await send({"type": "http.response.start", "status": 418, "headers": []})
        await send({"type": "http.response.body", "body": b"short and stout"})

    sent = call(MetricsMiddleware(teapot, metrics), "/v2/models/digits/infer")
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    count = "runwright_request_duration_seconds_count"
    assert value(metrics, count, endpoint="v2_infer", status="418") == 1


def test_a_handler_that_fails_is_recorded_as_a_500(metrics):
    async def broken(scope, receive, send):
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        call(MetricsMiddleware(broken, metrics), "/v1/models/digits:predict")
    errors = "runwright_request_errors_total"
    assert value(metrics, errors, endpoint="v1_predict", status="500") == 1


def test_flushes_during_requests_lose_and_double_nothing(metrics):
    """The request path writes without a lock while the reload thread flushes: every
    observation and row reaches Prometheus exactly once."""
    done = threading.Event()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # the threads take turns often: many flushes land mid-update

    def flush_often() -> None:
        while not done.is_set():
            metrics.flush()

    flusher = threading.Thread(target=flush_often)
    flusher.start()
    try:
        for index in range(20_000):
            metrics.observe("v2_infer", 200 if index % 4 else 400, 0.001)
            metrics.predicted(2)
    finally:
        done.set()
        flusher.join()
        sys.setswitchinterval(interval)
    metrics.flush()
    assert value(metrics, "runwright_predicted_rows_total") == 40_000
    ok = value(
        metrics, "runwright_request_duration_seconds_count", endpoint="v2_infer", status="200"
    )
    bad = value(metrics, "runwright_request_errors_total", endpoint="v2_infer", status="400")
    assert (ok, bad) == (15_000, 5_000)
    seconds = value(
        metrics, "runwright_request_duration_seconds_sum", endpoint="v2_infer", status="200"
    )
    assert seconds == pytest.approx(15.0)
