"""The service's processes (ml/serve/server.py): connections spread over the workers, and an
address already listened on refused by name."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ml.errors import UserError
from ml.serve import server
from tests.paths import REPO_ROOT
from tests.serving import free_port, stop_group, wait_ready, write_serve_params

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


def test_a_host_name_is_checked_where_gunicorn_binds_it():
    with listening() as taken:
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"localhost:{port} is in use"):
            server.check_free("localhost", port)


def test_a_free_address_passes_and_a_bad_host_is_named():
    server.check_free("127.0.0.1", free_port())
    bad = "no such host.invalid"
    with pytest.raises(UserError, match=re.escape(f"serve.host {bad!r}: cannot resolve")):
        server.check_free(bad, free_port())


@needs_own_listeners
@pytest.mark.e2e
def test_a_burst_of_connections_reaches_every_worker(digits_onnx, tmp_path):
    """32 connections queued while both workers are stopped, then the workers resumed one after
    the other. On one socket shared by the workers, the first to run accepted the whole queue;
    with a socket per worker, each finds its own share waiting. Every request is sampled to a
    file per worker process, so the files say which workers answered."""
    port = free_port()
    params = write_serve_params(tmp_path / "params.yaml", port=port, workers=2, sample_every=1)
    samples, log = tmp_path / "samples", tmp_path / "serve.log"
    command = [sys.executable, "-m", "ml.serve", "--model", str(digits_onnx)]
    command += ["--params", str(params), "--samples", str(samples)]
    with open(log, "wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process=process)
        # Ready means one worker answers; wait for the other to listen too.
        deadline = time.monotonic() + 30
        while log.read_text().count("Application startup complete.") < 2:
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.05)
        workers = children(process.pid)
        assert len(workers) == 2
        for pid in workers:
            os.kill(pid, signal.SIGSTOP)
        try:
            connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
            for connection in connections:
                connection.sendall(REQUEST)
        finally:
            os.kill(workers[0], signal.SIGCONT)
            time.sleep(1.0)  # the first worker accepts all it can reach
            os.kill(workers[1], signal.SIGCONT)
        answers = [read_status(connection) for connection in connections]
        for connection in connections:
            connection.close()
    finally:
        stop_group(process)
    assert answers == [200] * 32
    files = sorted(samples.glob("inputs-*.jsonl"))
    assert len(files) == 2, [file.name for file in files]
    assert sum(len(file.read_text().splitlines()) for file in files) == 32


BODY = json.dumps(
    {"inputs": [{"name": "image", "shape": [1, 8, 8, 1], "datatype": "FP32", "data": [0.0] * 64}]}
).encode()
REQUEST = (
    b"POST /v2/models/digits/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def read_status(connection: socket.socket) -> int:
    """The status of the one HTTP/1.1 response on this connection."""
    connection.settimeout(30)
    response = http.client.HTTPResponse(connection)
    response.begin()
    response.read()
    return response.status
