"""The service's processes (ml/serve/server.py): connections spread over the workers, and an
address already listened on refused by name."""

from __future__ import annotations

import http.client
import json
import socket
import time

import numpy as np
import pytest

from ml.errors import UserError
from ml.serve import server
from tests.serving import free_port, running_service, write_serve_params

needs_own_listeners = pytest.mark.skipif(
    not server.OWN_LISTENERS, reason="one listening socket per worker is Linux's"
)


def listening(*options: int) -> socket.socket:
    sock = socket.socket()
    for option in options:
        sock.setsockopt(socket.SOL_SOCKET, option, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize(
    "options",
    [(), (socket.SO_REUSEPORT,)] if hasattr(socket, "SO_REUSEPORT") else [()],
    ids=["plain", "reuseport"],
)
def test_an_address_in_use_is_refused_by_name(options):
    # A listener with SO_REUSEPORT (another service's worker) would otherwise be joined.
    with listening(*options) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"127.0.0.1:{port} is in use"):
            server.check_free("127.0.0.1", port)


def test_a_free_address_passes():
    server.check_free("127.0.0.1", free_port())


@needs_own_listeners
@pytest.mark.e2e
def test_a_burst_of_connections_reaches_every_worker(digits_onnx, tmp_path):
    """32 keep-alive connections opened at once, then one request on each: with one socket
    shared by the workers, the first worker to wake accepted them all. Every request is
    sampled to a file per worker process, so the files say which workers answered."""
    params = write_serve_params(tmp_path / "params.yaml", sample_every=1)
    samples = tmp_path / "samples"
    rows = np.zeros((1, 8, 8, 1), dtype=np.float32)
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": "image",
                    "shape": [1, 8, 8, 1],
                    "datatype": "FP32",
                    "data": rows.ravel().tolist(),
                }
            ]
        }
    )
    log = tmp_path / "serve.log"
    with running_service(digits_onnx, params, log, "--samples", str(samples), workers=2) as url:
        # Ready means one worker answers; the other may not be listening yet.
        deadline = time.monotonic() + 30
        while log.read_text().count("Application startup complete.") < 2:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        port = int(url.rsplit(":", 1)[1])
        connections = [http.client.HTTPConnection("127.0.0.1", port) for _ in range(32)]
        for connection in connections:
            connection.connect()
        for connection in connections:
            connection.request(
                "POST", "/v2/models/digits/infer", body, {"Content-Type": "application/json"}
            )
        statuses = [connection.getresponse().status for connection in connections]
        for connection in connections:
            connection.close()
    assert statuses == [200] * 32
    files = sorted(samples.glob("inputs-*.jsonl"))
    assert len(files) == 2, log.read_text()[-2000:]
    assert sum(len(file.read_text().splitlines()) for file in files) == 32
