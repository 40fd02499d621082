"""The monitor's health probe: ready and answering OIP model metadata, tried a few times; every
way of failing says what answered (or did not). A scripted loopback server plays a service in
each state; `ml monitor` against the real service is in test_command.py."""

from __future__ import annotations

import time

import pytest

from ml.monitor.probe import probe, probe_once
from tests.loopback_http import LoopbackServer, reply

METADATA = {"name": "digits", "versions": ["0123456789ab"], "platform": "onnxruntime_onnx"}


class Service(LoopbackServer):
    """Answers /v2/health/ready with each status in `ready` in turn (the last one for good),
    /v2/models/digits with `metadata`, after `delay` seconds."""

    def __init__(self, ready=(200,), metadata: object = METADATA, delay: float = 0.0) -> None:
        super().__init__()
        self.ready = list(ready)
        self.metadata = metadata
        self.delay = delay
        self.paths: list[str] = []

    def handle(self, request, method: str) -> None:
        time.sleep(self.delay)
        with self.lock:
            self.paths.append(request.path)
            status = self.ready.pop(0) if len(self.ready) > 1 else self.ready[0]
        try:
            if request.path == "/v2/health/ready":
                reply(request, status, {"ready": status == 200})
            elif request.path == "/v2/models/digits":
                reply(request, 200, self.metadata)
            else:
                reply(request, 404, {"error": "not found"})
        except (BrokenPipeError, ConnectionResetError):
            pass  # a probe that timed out has gone, as the slow-service test intends


def test_a_ready_service_reports_the_version_it_serves() -> None:
    with Service() as service:
        result = probe_once(service.url, "digits", timeout=2)
    assert result.ok and result.version == "0123456789ab"
    assert result.detail == f"{service.url} ready, serving version 0123456789ab"
    assert service.paths == ["/v2/health/ready", "/v2/models/digits"]


def test_not_ready_and_unknown_model_name_what_answered() -> None:
    with Service(ready=(503,)) as service:
        result = probe_once(service.url, "digits", timeout=2)
    assert not result.ok and result.version is None
    assert result.detail == f"{service.url}/v2/health/ready answered 503"
    with Service() as service:
        other = probe_once(service.url, "iris", timeout=2)
    assert not other.ok
    assert other.detail == f"{service.url}/v2/models/iris answered 404"


@pytest.mark.parametrize("metadata", [{"versions": []}, {"name": "digits"}, ["0123"]])
def test_metadata_that_is_not_oip_is_a_failure(metadata) -> None:
    with Service(metadata=metadata) as service:
        result = probe_once(service.url, "digits", timeout=2)
    assert not result.ok
    assert result.detail.endswith("answered something else than OIP metadata")


def test_a_service_that_does_not_answer_in_time(closed_port: int) -> None:
    with Service(delay=1.0) as service:
        slow = probe_once(service.url, "digits", timeout=0.2)
    assert slow.detail == f"{service.url} did not answer within 0.2 s"
    down = probe_once(f"http://127.0.0.1:{closed_port}", "digits", timeout=1)
    assert down.detail == f"http://127.0.0.1:{closed_port} is unreachable: ConnectError"


def test_probe_retries_until_the_service_is_ready() -> None:
    with Service(ready=(503, 503, 200)) as service:
        assert probe(service.url, "digits", attempts=3, timeout=2, pause=0).ok
        assert service.paths.count("/v2/health/ready") == 3


def test_probe_gives_up_after_its_attempts_with_the_last_reason() -> None:
    with Service(ready=(503,)) as service:
        result = probe(service.url, "digits", attempts=2, timeout=2, pause=0)
        assert service.paths == ["/v2/health/ready"] * 2
    assert not result.ok
    assert result.detail == f"{service.url}/v2/health/ready answered 503 (2 attempts)"
