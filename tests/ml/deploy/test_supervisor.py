"""The local deployment's supervisor, in-process with short back-off times: a service that keeps
failing is restarted with back-off and then given up on; a stop ends the service and the
supervisor; its state file says what happened. (A served model killed with SIGKILL and started
again by the real supervisor is in test_local.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ml.deploy import supervisor
from ml.deploy.supervisor import Supervisor, is_alive, read_state


@pytest.fixture(autouse=True)
def quick(monkeypatch):
    """Back-off in milliseconds; the signal handlers `run` installs are put back afterwards."""
    monkeypatch.setattr(supervisor, "FIRST_DELAY_SECONDS", 0.01)
    monkeypatch.setattr(supervisor, "MAX_DELAY_SECONDS", 0.02)
    monkeypatch.setattr(supervisor, "MAX_QUICK_FAILURES", 2)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def state_of(state_dir: Path) -> dict:
    state = read_state(state_dir)
    assert state is not None, f"no readable state in {state_dir}"
    return state


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_service_that_keeps_failing_is_restarted_then_given_up(tmp_path: Path):
    command = python("import sys; print('starting'); sys.exit(3)")
    assert Supervisor(tmp_path, command).run() == 1
    state = state_of(tmp_path)
    assert state["state"] == "crashed" and state["last_exit"] == 3
    assert state["restarts"] == 2  # MAX_QUICK_FAILURES restarts, then no more
    assert state["command"] == command and state["pid"] == os.getpid()
    log = (tmp_path / supervisor.LOG_FILE).read_text()
    assert log.count("starting") == 3  # the service's output goes to service.log


def test_stop_ends_the_service_and_the_supervisor(tmp_path: Path):
    started = tmp_path / "started"
    command = python(
        f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(60)"
    )
    watched = Supervisor(tmp_path, command)
    seen: dict[str, Any] = {}

    def stop_once_running() -> None:  # what SIGTERM does, from another thread
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.update(state_of(tmp_path))
        watched.stop()

    stopper = threading.Thread(target=stop_once_running)
    stopper.start()
    assert watched.run() == 0  # signal handlers can only be set on the main thread
    stopper.join()
    assert seen["state"] == "running"
    state = state_of(tmp_path)
    assert state["state"] == "stopped" and state["child_pid"] is None
    assert state["restarts"] == 0
    assert not is_alive(seen["child_pid"], "time.sleep")


def started_python(code: str) -> subprocess.Popen:
    """A Python process that has printed a line: its command line is its own by then."""
    process = subprocess.Popen(python(f"print(flush=True); {code}"), stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()
    return process


def test_is_alive_checks_the_command_line_not_only_the_pid():
    process = started_python("import time; time.sleep(30)")
    try:
        assert is_alive(process.pid, "time.sleep(30)")
        assert not is_alive(process.pid, "ml.serve")  # a recycled pid running something else
    finally:
        process.kill()
        process.wait()
        if process.stdout:
            process.stdout.close()
    assert not is_alive(process.pid, "time.sleep(30)")
    assert not is_alive(None, "ml.serve")


def test_a_missing_or_torn_state_file_reads_as_none(tmp_path: Path):
    assert read_state(tmp_path) is None
    (tmp_path / supervisor.STATE_FILE).write_text('{"state": "runn')
    assert read_state(tmp_path) is None
    (tmp_path / supervisor.STATE_FILE).write_text(json.dumps({"state": "running"}))
    assert read_state(tmp_path) == {"state": "running"}


def test_the_command_to_supervise_is_required(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as caught:
        supervisor.main(["--state-dir", str(tmp_path), "--"])
    assert caught.value.code == 2
    assert "give the command to supervise after --" in capsys.readouterr().err
