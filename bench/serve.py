"""Serving benchmark: the kit's service (`python -m ml.serve`) against `mlflow models serve` and
against the floor, a no-op endpoint on the same server stack, all on the same ONNX model, on
this machine, loaded by the same generator (wrk).

Besides wrk's throughput and latency, each run records the CPU time the server's processes used
per request, a steadier figure when other work shares the machine.

Cells: 1-row and 32-row requests at concurrency 1, 8 and 32. In every cell the servers run one
after the other, in an order that rotates between repetitions; each run lasts --duration seconds
after a 1 s warm-up, and the medians over --repeats repetitions are reported. Cold start is the
time from starting the process to the first 200 from its readiness endpoint, measured
alternately for the kit and MLflow.

Two floors, both the kit's own stack (FastAPI app from ml.serve.app.base_app under uvicorn, the
kit's workers) answering {} after reading the body: `floor` is an endpoint written the usual
FastAPI way (@app.post), as in the figures the goals were set against; `floor-raw` is routed like
the kit's inference endpoints (a plain Starlette route), the least this stack does per request.

Goals: kit/mlflow throughput >= 5 at c=8 for 1 row and >= 10 for 32 rows; kit/floor p50 <= 1.5
at c=1 (kit/floor-raw is printed too); no errors at c=32; kit cold start <= 1 s.

    python bench/serve.py [--model models/model.onnx] [--duration 5] [--repeats 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent
ROWS = (1, 32)
CONCURRENCY = (1, 8, 32)
SERVERS = ("kit", "mlflow", "floor", "floor-raw")
# Two floors on the kit's own server stack (ml.serve.app.base_app under uvicorn, same workers),
# each an endpoint that reads the body and answers {}: `floor` written the usual FastAPI way
# (@app.post, as in the figures the goals were set against), `floor-raw` routed like the kit's
# inference endpoints (a plain Starlette route), the least this stack can do per request.
FLOOR_APP = """
from fastapi import Request, Response
from ml.serve.app import base_app
async def noop(request: Request) -> Response:
    await request.body()
    return Response(b"{}", media_type="application/json")
async def ready(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")
app = base_app()
app.router.add_route("/raw", noop, methods=["POST"])
app.router.add_route("/ready", ready, methods=["GET"])
app.post("/noop")(noop)
"""
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = io.open("{body}", "rb")
wrk.body = file:read("*a")
file:close()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment() -> dict[str, str]:
    # `mlflow models serve` finds its tools only with the venv's bin first on PATH.
    return os.environ | {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


class Server:
    """One server process: `command` with PORT replaced by a free loopback port."""

    def __init__(self, name: str, command: list[str], ready: str, infer: str, cwd: Path) -> None:
        self.port = free_port()
        self.name, self.cwd = name, cwd
        self.command = [part.replace("PORT", str(self.port)) for part in command]
        self.ready_url = f"http://127.0.0.1:{self.port}{ready}"
        self.infer_url = f"http://127.0.0.1:{self.port}{infer}"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self.process.pid

    def start(self, timeout: float = 60) -> float:
        """Start the process; seconds until the readiness endpoint first answers 200."""
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=environment(),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while time.perf_counter() - started < timeout:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.ready_url, timeout=0.5).status_code == 200:
                    return time.perf_counter() - started
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} not ready in {timeout} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def servers(workspace: Path, model: Path, workers: int) -> dict[str, Server]:
    import mlflow.onnx
    import onnx

    mlflow_model = workspace / "mlflow-model"
    mlflow.onnx.save_model(onnx.load(str(model)), str(mlflow_model), save_as_external_data=False)
    (workspace / "floor_app.py").write_text(FLOOR_APP)
    params = workspace / "params.yaml"
    params.write_text(f"serve:\n  model_name: digits\n  workers: {workers}\n")
    python = [sys.executable, "-m"]
    kit = [*python, "ml.serve", "--model", str(model), "--params", str(params)]
    kit += ["--samples", str(workspace / "samples"), "--port", "PORT"]
    # The floors run like the kit: gunicorn's arbiter with the same number of uvicorn workers.
    floor = [*python, "gunicorn", "--worker-class", "uvicorn_worker.UvicornWorker"]
    floor += ["--workers", str(workers), "--bind", "127.0.0.1:PORT", "--no-control-socket"]
    floor += ["--log-level", "warning", "floor_app:app"]
    served = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", str(mlflow_model)]
    served += ["--env-manager", "local", "--host", "127.0.0.1", "-p", "PORT"]
    return {
        "kit": Server("kit", kit, "/v2/health/ready", "/v2/models/digits/infer", ROOT),
        "mlflow": Server("mlflow", served, "/ping", "/invocations", workspace),
        "floor": Server("floor", floor, "/ready", "/noop", workspace),
        "floor-raw": Server("floor-raw", floor, "/ready", "/raw", workspace),
    }


def write_bodies(workspace: Path, model: Path) -> dict[tuple[str, int], Path]:
    """Request bodies: the same rows in each server's format (the floor gets the kit's)."""
    from ml.serve.model import load

    loaded = load(model)
    rng = np.random.default_rng(0)
    bodies = {}
    for rows in ROWS:
        data = rng.random((rows, *loaded.row_shape), dtype=np.float32).round(4)
        v2 = {
            "inputs": [
                {
                    "name": loaded.input_name,
                    "shape": list(data.shape),
                    "datatype": "FP32",
                    "data": data.ravel().tolist(),
                }
            ]
        }
        formats = (
            ("kit", v2),
            ("floor", v2),
            ("floor-raw", v2),
            ("mlflow", {"inputs": data.tolist()}),
        )
        for server, body in formats:
            path = workspace / f"{server}-{rows}.json"
            path.write_text(json.dumps(body))
            bodies[server, rows] = path
    return bodies


def check_answers(server: Server, body: Path) -> None:
    response = httpx.post(
        server.infer_url,
        content=body.read_bytes(),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"{server.name} answered {response.status_code}: {response.text[:300]}")


def wrk(server: Server, body: Path, connections: int, seconds: float) -> dict:
    """One wrk run, plus the CPU time the server's processes used per request: on a shared
    machine a steadier figure than wall-clock throughput."""
    script = body.with_suffix(".lua")
    script.write_text(WRK_SCRIPT.format(body=body))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    before = group_cpu_seconds(server.pid)
    result = subprocess.run(
        [*command, server.infer_url], capture_output=True, text=True, check=True
    )
    used = group_cpu_seconds(server.pid) - before
    figures = parse_wrk(result.stdout)
    requests = int(found(r"(\d+) requests in", result.stdout).group(1))
    return figures | {"cpu_us": used / max(requests, 1) * 1e6}


def group_cpu_seconds(group: int) -> float:
    """User + system CPU seconds of every process in process group `group` (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group:  # pgrp
                total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def found(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"no {pattern!r} in wrk's output:\n{text}")
    return match


def parse_wrk(output: str) -> dict:
    def seconds(text: str) -> float:
        value, unit = found(r"^([\d.]+)(us|ms|s|m)$", text).groups()
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.M))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    nan = float("nan")  # no latency figures when no request completed (all timed out)
    return {
        "rps": float(found(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": seconds(latency["50"]) * 1e3 if "50" in latency else nan,
        "p99_ms": seconds(latency["99"]) * 1e3 if "99" in latency else nan,
        "errors": errors + (int(non_2xx.group(1)) if non_2xx else 0),
    }


# (server, rows per request, connections) -> the median figures of its runs
Figures = dict[tuple[str, int, int], dict[str, float]]


def measure(all_servers, bodies, duration: float, repeats: int) -> Figures:
    results: dict[tuple[str, int, int], list[dict]] = {}
    for rows in ROWS:
        for connections in CONCURRENCY:
            for repeat in range(repeats):
                shift = repeat % len(SERVERS)
                order = SERVERS[shift:] + SERVERS[:shift]  # rotate who goes first
                for name in order:
                    server = all_servers[name]
                    wrk(server, bodies[name, rows], connections, 1)  # warm-up
                    run = wrk(server, bodies[name, rows], connections, duration)
                    results.setdefault((name, rows, connections), []).append(run)
            print_cell(results, rows, connections)
    return {key: median_run(runs) for key, runs in results.items()}


def median_run(runs: list[dict]) -> dict[str, float]:
    merged = {
        key: statistics.median(run[key] for run in runs)
        for key in ("rps", "p50_ms", "p99_ms", "cpu_us")
    }
    return merged | {"errors": sum(run["errors"] for run in runs)}


def print_cell(results: dict, rows: int, connections: int) -> None:
    for name in SERVERS:
        run = median_run(results[name, rows, connections])
        print(
            f"  {rows:>2} row(s) c={connections:<2} {name:<9} {run['rps']:>8.0f} req/s  "
            f"p50 {run['p50_ms']:6.2f} ms  p99 {run['p99_ms']:6.2f} ms  "
            f"server CPU {run['cpu_us']:6.0f} us/req  errors {run['errors']}",
            flush=True,
        )


def cold_starts(all_servers, starts: int) -> dict[str, float]:
    times: dict[str, list[float]] = {"kit": [], "mlflow": []}
    for attempt in range(starts):
        for name in ("kit", "mlflow") if attempt % 2 == 0 else ("mlflow", "kit"):
            server = all_servers[name]
            try:
                times[name].append(server.start())
            finally:
                server.stop()
    return {name: statistics.median(values) for name, values in times.items()}


def report(figures: Figures, starts: dict[str, float], workers: int) -> dict:
    def ratio(top, bottom) -> float:
        return figures[top]["rps"] / figures[bottom]["rps"]

    goals = {
        "throughput kit/mlflow, 1 row, c=8": (ratio(("kit", 1, 8), ("mlflow", 1, 8)), 5, True),
        "throughput kit/mlflow, 32 rows, c=8": (
            ratio(("kit", 32, 8), ("mlflow", 32, 8)),
            10,
            True,
        ),
        "p50 kit/floor, 1 row, c=1": (
            figures["kit", 1, 1]["p50_ms"] / figures["floor", 1, 1]["p50_ms"],
            1.5,
            False,
        ),
        "errors kit, c=32 (1 and 32 rows)": (
            figures["kit", 1, 32]["errors"] + figures["kit", 32, 32]["errors"],
            0,
            False,
        ),
        "cold start kit, s": (starts["kit"], 1.0, False),
    }
    cpu = {name: figures[name, 1, 1]["cpu_us"] for name in SERVERS}
    print(
        "\nserver CPU per 1-row request at c=1: "
        + ", ".join(f"{name} {value:.0f} us" for name, value in cpu.items())
    )
    raw = figures["kit", 1, 1]["p50_ms"] / figures["floor-raw", 1, 1]["p50_ms"]
    print(f"workers: kit {workers}, floors {workers}, mlflow 1 (its default)")
    print(f"p50 kit/floor-raw, 1 row, c=1: {raw:.2f} (floor-raw: the least this stack can do)")
    print(
        f"cold start to ready (median): kit {starts['kit']:.2f} s, mlflow {starts['mlflow']:.2f} s"
    )
    print(
        f"p50 kit/floor, 32 rows, c=1: "
        f"{figures['kit', 32, 1]['p50_ms'] / figures['floor', 32, 1]['p50_ms']:.2f}"
    )
    for label, (value, goal, higher) in goals.items():
        met = value >= goal if higher else value <= goal
        print(
            f"{label} = {value:.2f} (goal {'>=' if higher else '<='} {goal:g}): "
            f"{'PASS' if met else 'MISS'}"
        )
    return {label: {"value": value, "goal": goal} for label, (value, goal, _) in goals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models/model.onnx")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per server and cell")
    parser.add_argument("--starts", type=int, default=3, help="cold starts per server")
    parser.add_argument("--workers", type=int, default=2, help="kit and floor workers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    if not args.model.is_file():
        sys.exit(f"{args.model}: no model; run `make run` (or pass --model)")
    with tempfile.TemporaryDirectory(prefix="runwright-bench-serve-") as tmp:
        workspace = Path(tmp)
        all_servers = servers(workspace, args.model, args.workers)
        bodies = write_bodies(workspace, args.model)
        starts = cold_starts(all_servers, args.starts)
        try:
            for name, server in all_servers.items():
                server.start()
                check_answers(server, bodies[name, 1])
            print(f"model {args.model}, {args.duration:g} s per run, {args.repeats} runs per cell")
            figures = measure(all_servers, bodies, args.duration, args.repeats)
        finally:
            for server in all_servers.values():
                server.stop()
    goals = report(figures, starts, args.workers)
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    record = {
        "cells": [
            {"server": s, "rows": r, "concurrency": c} | v for (s, r, c), v in figures.items()
        ],
        "cold_start_s": starts,
        "goals": goals,
        "load_average": os.getloadavg(),
    }
    (results / "serve.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
