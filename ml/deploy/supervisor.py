"""A small supervisor for the local deployment: it runs the service, restarts it when it exits
unexpectedly (with back-off), and keeps its state in <state-dir>/supervisor.json.

    python -m ml.deploy.supervisor --state-dir .deploy/local -- python -m ml.serve ...

The service runs in its own process group; after it exits, whatever is left of the group (an
orphaned uvicorn worker still holding the port) is killed before the next start. SIGTERM stops
the service gracefully and then the supervisor. After MAX_QUICK_FAILURES short runs in a row it
gives up (state "crashed") and leaves the rest to `ml monitor`, which redeploys the champion.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, TypeGuard

from ml.io import read_json, write_json

STATE_FILE = "supervisor.json"
LOG_FILE = "service.log"
FIRST_DELAY_SECONDS = 0.5  # back-off doubles per quick failure, up to MAX_DELAY_SECONDS
MAX_DELAY_SECONDS = 10.0
STABLE_SECONDS = 30.0  # a run this long was healthy: the back-off starts over
MAX_QUICK_FAILURES = 8


class Supervisor:
    def __init__(self, state_dir: Path, command: list[str]) -> None:
        self.state_dir = state_dir
        self.command = command
        self.stopping = threading.Event()
        self.child: subprocess.Popen | None = None
        self.state: dict[str, Any] = {
            "pid": os.getpid(),
            "command": command,
            "restarts": 0,
            "state": "starting",
        }

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)
        quick_failures = 0
        while not self.stopping.is_set():
            started = time.monotonic()
            code = self.run_once()
            if self.stopping.is_set():
                break
            ran = time.monotonic() - started
            quick_failures = 0 if ran >= STABLE_SECONDS else quick_failures + 1
            if quick_failures > MAX_QUICK_FAILURES:
                self.record(state="crashed", last_exit=code)
                return 1
            delay = min(MAX_DELAY_SECONDS, FIRST_DELAY_SECONDS * 2 ** (quick_failures - 1))
            self.record(state="restarting", last_exit=code, restarts=self.state["restarts"] + 1)
            print(f"service exited with {code} after {ran:.1f} s; restarting in {delay:g} s")
            self.stopping.wait(delay)
        self.record(state="stopped", child_pid=None)
        return 0

    def run_once(self) -> int:
        with open(self.state_dir / LOG_FILE, "ab") as log:
            self.child = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.record(state="running", child_pid=self.child.pid, started_at=time.time())
        code = self.child.wait()
        kill_group(self.child.pid, signal.SIGKILL)  # workers orphaned by a killed parent
        return code

    def stop(self, *_: object) -> None:
        self.stopping.set()
        if self.child is not None and self.child.poll() is None:
            kill_group(self.child.pid, signal.SIGTERM)  # uvicorn drains in-flight requests

    def record(self, **changes: object) -> None:
        self.state |= changes
        write_json(self.state_dir / STATE_FILE, self.state)


def kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def read_state(state_dir: Path) -> dict | None:
    try:
        return read_json(state_dir / STATE_FILE)
    except (OSError, ValueError):
        return None


def is_alive(pid: int | None, marker: str) -> TypeGuard[int]:
    """Whether `pid` runs and its command line contains `marker` (a recycled pid does not)."""
    if not pid:
        return False
    if not Path("/proc").is_dir():  # no procfs (macOS): existence is all that can be checked
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return status != "Z" and marker in cmdline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to supervise after --")
    args.state_dir.mkdir(parents=True, exist_ok=True)
    return Supervisor(args.state_dir, command).run()


if __name__ == "__main__":
    sys.exit(main())
