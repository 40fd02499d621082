"""Serving benchmark: the kit's service (`python -m ml.serve`) against the floor and against the
model servers a team would pick instead, all serving the same ONNX file with onnxruntime (one
intra-op thread per worker, the same worker count), on this machine, loaded by one generator.

Servers:
- kit: `python -m ml.serve`, Open Inference Protocol v2 requests;
- floor: bench/baselines/raw_floor.py, a bare ASGI app (orjson + numpy + onnxruntime, no
  validation, no metrics) on the kit's process stack: the least a Python service can do;
- peers (bench/_peers.py, each in its own environment under .cache/bench, installed on first
  use from the hashed bench/peers/<name>/requirements.txt): a hand-written FastAPI + pydantic
  endpoint, KServe's Python model server (a kserve.Model subclass), LitServe and BentoML, plus
  `mlflow models serve` from the project's own environment. A peer that cannot be installed or
  started here is reported as SKIP with the reason.

Cells: 1-row and 32-row requests at concurrency 1, 8 and 32. In every cell the servers run one
after the other, in an order that rotates between repetitions, so a machine that slows down
mid-run affects all alike; each run lasts --duration seconds after a 1 s warm-up, and medians
over --repeats repetitions are reported with the 1-minute load average they ran at. Besides
throughput and latency, each run records the CPU time the server's processes used per request,
a steadier figure on a shared machine, the cores they kept busy, and how busy wrk's one thread
was (near 100 %, the load generator set the pace). After the goal lines, the kit's requests
per server CPU-second over each peer's are printed next to the req/s ratio: on a busy machine
a server with more runnable threads wins a larger share of the cores. Cold start is the time
from starting the process to the first 200 from its readiness endpoint, every server in turn.

The load generator is wrk (`apt-get install wrk`); the script stops with that hint without it.

Goals (issue 12): kit/floor throughput >= 0.8 at 1 row c=8; kit/floor server CPU per 1-row
request <= 1.3 (c=8); kit/floor p50 <= 1.3 at 1 row c=1; kit cold start <= 1 s; kit/fastest peer
throughput >= 4 at 1 row c=8 and >= 5 at 32 rows c=8; no errors from the kit at c=32. The 1-row
goals are measured again after the cells, in --rounds rounds with the other servers stopped (the
kit, the floor and, at c=8, the fastest peer taking turns within a round); each goal is the
median of the rounds' ratios.

    python bench/serve.py [--model models/model.onnx] [--duration 3] [--repeats 2] [--rounds 5]
                          [--servers kit,floor,fastapi,...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
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
from _common import (
    BASELINES_DIR,
    REPO_ROOT,
    print_goal,
    print_table,
    write_results,
)
from _peers import PEERS, PEERS_DIR, PeerUnavailable, environment

VENV_BIN = Path(sys.executable).parent
ROWS = (1, 32)
CONCURRENCY = (1, 8, 32)
KIT, FLOOR = "kit", "floor"
ALL_SERVERS = (KIT, FLOOR, *PEERS, "mlflow")
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


class Server:
    """One server process: `command` with PORT replaced by a free loopback port."""

    def __init__(
        self,
        name: str,
        command: list[str],
        ready: str,
        infer: str,
        cwd: Path,
        env: dict[str, str],
        body_format: str,
    ) -> None:
        self.port = free_port()
        self.name, self.cwd, self.env, self.body_format = name, cwd, env, body_format
        self.command = [part.replace("PORT", str(self.port)) for part in command]
        self.env = env | {"PORT": str(self.port)}
        self.ready_url = f"http://127.0.0.1:{self.port}{ready}"
        self.infer_url = f"http://127.0.0.1:{self.port}{infer}"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self.process.pid

    def start(self, timeout: float = 120) -> float:
        """Start the process; seconds until the readiness endpoint first answers 200."""
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
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
        self.stop()
        raise RuntimeError(f"{self.name} not ready in {timeout} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Some servers put workers in process groups of their own: signal the whole tree.
        tree = descendants(self.process.pid)
        for pid in [self.process.pid, *tree]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(20)
        for pid in [self.process.pid, *descendants(self.process.pid), *tree]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


def proc_stats() -> dict[int, list[str]]:
    """pid -> the fields of /proc/<pid>/stat after the command name."""
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            stats[int(stat.parent.name)] = stat.read_text().rsplit(")", 1)[1].split()
    return stats


def descendants(root: int, stats: dict[int, list[str]] | None = None) -> list[int]:
    stats = proc_stats() if stats is None else stats
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)  # ppid
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU seconds of `root` and every process below it (Linux /proc)."""
    stats = proc_stats()
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in [root, *descendants(root, stats)]:
        if pid in stats:
            total += int(stats[pid][11]) + int(stats[pid][12])  # utime, stime
    return total / tick


def model_facts(model: Path) -> tuple[str, tuple[int, ...]]:
    from ml.serve.model import load

    loaded = load(model)
    return loaded.input_name, loaded.row_shape


def make_servers(
    workspace: Path, model: Path, workers: int, wanted: list[str]
) -> tuple[dict[str, Server], dict[str, str]]:
    """The servers to measure, and the reason for each one that cannot run here."""
    input_name, row_shape = model_facts(model)
    base_env = os.environ | {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    facts = {
        "MODEL": str(model),
        "INPUT_NAME": input_name,
        "ROW_SHAPE": json.dumps(row_shape),
        "WORKERS": str(workers),
    }
    params = workspace / "params.yaml"
    params.write_text(f"serve:\n  model_name: digits\n  workers: {workers}\n")
    python = sys.executable
    kit = [python, "-m", "ml.serve", "--model", str(model), "--params", str(params)]
    kit += ["--samples", str(workspace / "samples"), "--port", "PORT"]
    # The kit's gunicorn settings (ml/serve/server.py): the floor differs only in its app.
    floor = [python, "-m", "gunicorn", "--worker-class", "uvicorn_worker.UvicornWorker"]
    floor += ["--reuse-port", "--keep-alive", "5"]
    floor += ["--workers", str(workers), "--bind", "127.0.0.1:PORT", "--no-control-socket"]
    floor += ["--log-level", "warning", "raw_floor:app"]
    servers = {
        KIT: Server(
            KIT, kit, "/v2/health/ready", "/v2/models/digits/infer", REPO_ROOT, base_env, "v2"
        ),
        FLOOR: Server(
            FLOOR,
            floor,
            "/ready",
            "/infer",
            BASELINES_DIR,
            base_env | facts | {"PYTHONPATH": str(REPO_ROOT)},
            "v2",
        ),
    }
    skipped = {}
    for name in wanted:
        if name in servers:
            continue
        if name == "mlflow":
            servers[name] = mlflow_server(workspace, model, base_env)
            continue
        peer = PEERS[name]
        try:
            peer_python = environment(name)
        except PeerUnavailable as exc:
            skipped[name] = str(exc)
            continue
        command = [
            part.replace("PYTHON", str(peer_python)).replace("WORKERS", str(workers))
            for part in peer.command
        ]
        # Only the peer's own environment: nothing of the project's on its path.
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        env |= facts | {"PATH": f"{peer_python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        servers[name] = Server(
            name, command, peer.ready, peer.infer, PEERS_DIR / name, env, "instances"
        )
    return {name: servers[name] for name in wanted if name in servers}, skipped


def mlflow_server(workspace: Path, model: Path, env: dict[str, str]) -> Server:
    import mlflow.onnx
    import onnx

    saved = workspace / "mlflow-model"
    mlflow.onnx.save_model(onnx.load(str(model)), str(saved), save_as_external_data=False)
    command = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", str(saved)]
    command += ["--env-manager", "local", "--host", "127.0.0.1", "-p", "PORT"]
    return Server("mlflow", command, "/ping", "/invocations", workspace, env, "mlflow")


def write_bodies(workspace: Path, model: Path) -> dict[tuple[str, int], Path]:
    """Request bodies, the same rows in each format: OIP v2 (kit, floor), {"instances": [flat
    rows]} (the peers), {"inputs": [nested rows]} (mlflow)."""
    input_name, row_shape = model_facts(model)
    rng = np.random.default_rng(0)
    bodies = {}
    for rows in ROWS:
        data = rng.random((rows, *row_shape), dtype=np.float32).round(4)
        formats = {
            "v2": {
                "inputs": [
                    {
                        "name": input_name,
                        "shape": list(data.shape),
                        "datatype": "FP32",
                        "data": data.ravel().tolist(),
                    }
                ]
            },
            "instances": {"instances": data.reshape(rows, -1).tolist()},
            "mlflow": {"inputs": data.tolist()},
        }
        for body_format, body in formats.items():
            path = workspace / f"{body_format}-{rows}.json"
            path.write_text(json.dumps(body))
            bodies[body_format, rows] = path
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
    """One wrk run, plus the CPU time the server's processes used per request and the load
    average at its end."""
    script = body.with_suffix(".lua")
    script.write_text(WRK_SCRIPT.format(body=body))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script)]
    before, generator_before = tree_cpu_seconds(server.pid), children_cpu_seconds()
    started = time.perf_counter()
    result = subprocess.run(
        [*command, server.infer_url], capture_output=True, text=True, check=True
    )
    elapsed = time.perf_counter() - started
    used = tree_cpu_seconds(server.pid) - before
    figures = parse_wrk(result.stdout)
    requests = int(found(r"(\d+) requests in", result.stdout).group(1))
    return figures | {
        "cpu_us": used / max(requests, 1) * 1e6,
        # Cores the server's processes kept busy, and the share of its one thread the load
        # generator used: near 1, wrk (not the server) set the pace.
        "cores": used / elapsed,
        "wrk_busy": (children_cpu_seconds() - generator_before) / elapsed,
        "load": os.getloadavg()[0],
    }


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's finished children (the wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
MEDIANS = ("rps", "p50_ms", "p99_ms", "cpu_us", "cores", "wrk_busy", "load")


def measure(servers: dict[str, Server], bodies, duration: float, repeats: int) -> Figures:
    names = list(servers)
    results: dict[tuple[str, int, int], list[dict]] = {}
    for rows in ROWS:
        for connections in CONCURRENCY:
            for repeat in range(repeats):
                shift = repeat % len(names)
                for name in names[shift:] + names[:shift]:  # rotate who goes first
                    server = servers[name]
                    body = bodies[server.body_format, rows]
                    wrk(server, body, connections, 1)  # warm-up
                    measured = wrk(server, body, connections, duration)
                    results.setdefault((name, rows, connections), []).append(measured)
            print_cell(results, names, rows, connections)
    return {key: median_run(runs) for key, runs in results.items()}


def peers_of(servers: dict[str, Server]) -> list[str]:
    return [name for name in servers if name not in (KIT, FLOOR)]


def median_run(runs: list[dict]) -> dict[str, float]:
    merged = {key: statistics.median(one[key] for one in runs) for key in MEDIANS}
    return merged | {"errors": sum(one["errors"] for one in runs)}


def print_cell(results: dict, names: list[str], rows: int, connections: int) -> None:
    kit = median_run(results[KIT, rows, connections])
    for name in names:
        cell = median_run(results[name, rows, connections])
        ratio = "" if name == KIT else f"  kit/{name} {kit['rps'] / cell['rps']:5.2f}x"
        print(
            f"  {rows:>2} row(s) c={connections:<2} {name:<8} {cell['rps']:>7.0f} req/s  "
            f"p50 {cell['p50_ms']:6.2f} ms  p99 {cell['p99_ms']:7.2f} ms  "
            f"CPU {cell['cpu_us']:6.0f} us/req on {cell['cores']:.2f} cores  "
            f"wrk busy {cell['wrk_busy']:4.0%}  errors {cell['errors']}  "
            f"load {cell['load']:.1f}{ratio}",
            flush=True,
        )


def cold_starts(servers: dict[str, Server], starts: int) -> dict[str, dict[str, float]]:
    """Median seconds to ready per server, every server in turn, the order rotating."""
    names = list(servers)
    times: dict[str, list[float]] = {name: [] for name in names}
    loads: list[float] = []
    for attempt in range(starts):
        shift = attempt % len(names)
        for name in names[shift:] + names[:shift]:
            server = servers[name]
            try:
                times[name].append(server.start())
            finally:
                server.stop()
        loads.append(os.getloadavg()[0])
    return {
        name: {"seconds": statistics.median(values), "load": statistics.median(loads)}
        for name, values in times.items()
    }


def ratio_table(figures: Figures, starts: dict, peers: list[str]) -> None:
    """Every peer against the kit, cell by cell: kit/peer throughput, peer/kit latency and CPU
    (above 1: the kit is ahead), and cold start."""
    rows: list[list[object]] = []
    for peer in peers:
        for count in ROWS:
            for connections in CONCURRENCY:
                kit, other = figures[KIT, count, connections], figures[peer, count, connections]
                rows.append(
                    [
                        f"{peer} {count}r c={connections}",
                        f"{kit['rps'] / other['rps']:.2f}",
                        f"{other['p50_ms'] / kit['p50_ms']:.2f}",
                        f"{other['p99_ms'] / kit['p99_ms']:.2f}",
                        f"{other['cpu_us'] / kit['cpu_us']:.2f}",
                        f"{(kit['load'] + other['load']) / 2:.1f}",
                    ]
                )
        cold = starts[peer]["seconds"] / starts[KIT]["seconds"]
        rows.append([f"{peer} cold start", "", "", "", "", f"{starts[peer]['load']:.1f}"])
        rows[-1][1] = f"{cold:.2f} (peer/kit)"
    print()
    print_table(["peer, cell", "kit/peer req/s", "p50 peer/kit", "p99", "CPU", "load"], rows)


def fastest_peer(figures: Figures, peers: list[str], rows: int) -> str:
    return max(peers, key=lambda name: figures[name, rows, 8]["rps"])


def goal_rounds(
    servers: dict[str, Server], bodies, duration: float, rounds: int, fastest: str | None
) -> dict[tuple[int, int], list[dict[str, dict]]]:
    """The 1-row cells of the goals measured again in rounds, with the other servers stopped:
    at c=8 the kit, the floor and the fastest peer, at c=1 the kit and the floor, taking turns
    within each round (who goes first rotates). A ratio within one round compares runs seconds
    apart; the goals take the median of the rounds' ratios. A cell's two runs alone left the
    kit/floor ratios swinging by a fifth from one `make bench` to the next."""
    cells = {(1, 8): [KIT, FLOOR, *([fastest] if fastest else [])], (1, 1): [KIT, FLOOR]}
    measured: dict[tuple[int, int], list[dict[str, dict]]] = {}
    for (rows, connections), names in cells.items():
        # Only the servers of the rounds keep running: with the five peers idle alongside, the
        # kit/floor ratio spread twice as far over five rounds (1.02 to 1.55 against 1.23 to
        # 1.30 alone), though the idle peers used under 1 % of a core.
        for name, server in servers.items():
            if name not in names:
                server.stop()
        for number in range(rounds):
            shift = number % len(names)
            runs = {}
            for name in names[shift:] + names[:shift]:
                server = servers[name]
                body = bodies[server.body_format, rows]
                wrk(server, body, connections, 1)  # warm-up
                runs[name] = wrk(server, body, connections, duration)
            measured.setdefault((rows, connections), []).append(runs)
        ratios = [
            f"{runs[KIT]['cpu_us'] / runs[FLOOR]['cpu_us']:.2f}"
            for runs in measured[rows, connections]
        ]
        print(f"goal rounds, {rows} row, c={connections}: kit/floor CPU per request {ratios}")
    return measured


def round_ratio(rounds: list[dict[str, dict]], other: str, key: str) -> tuple[float, float]:
    """Median over the rounds of kit/other for `key`, and the rounds' mean load average."""
    ratios = [runs[KIT][key] / runs[other][key] for runs in rounds]
    load = statistics.mean((runs[KIT]["load"] + runs[other]["load"]) / 2 for runs in rounds)
    return statistics.median(ratios), load


def goals(
    figures: Figures,
    rounds: dict[tuple[int, int], list[dict[str, dict]]],
    starts: dict,
    peers: list[str],
) -> dict[str, dict]:
    results: dict[str, dict] = {}

    def goal(label: str, value: float, load: float, target: float, higher: bool) -> None:
        verdict = print_goal(label, value, target, higher, load)
        results[label] = {"value": value, "goal": target, "result": verdict, "load": load}

    print()
    c8, c1 = rounds[1, 8], rounds[1, 1]
    goal("throughput kit/floor, 1 row, c=8", *round_ratio(c8, FLOOR, "rps"), 0.8, True)
    cpu = round_ratio(c8, FLOOR, "cpu_us")
    goal("server CPU per request kit/floor, 1 row, c=8", *cpu, 1.3, False)
    goal("p50 kit/floor, 1 row, c=1", *round_ratio(c1, FLOOR, "p50_ms"), 1.3, False)
    goal("cold start kit, s", starts[KIT]["seconds"], starts[KIT]["load"], 1.0, False)
    for rows, target in ((1, 4.0), (32, 5.0)):
        label = f"throughput kit/fastest peer, {rows} row(s), c=8"
        if not peers:
            print(f"{label}: SKIP (no peer could run here)")
            continue
        fastest = fastest_peer(figures, peers, rows)
        if rows == 1:
            value, load = round_ratio(c8, fastest, "rps")
        else:
            kit, other = figures[KIT, rows, 8], figures[fastest, rows, 8]
            value, load = kit["rps"] / other["rps"], (kit["load"] + other["load"]) / 2
        goal(f"{label} ({fastest})", value, load, target, True)
    errors = figures[KIT, 1, 32]["errors"] + figures[KIT, 32, 32]["errors"]
    goal("errors kit, c=32 (1 and 32 rows)", errors, figures[KIT, 32, 32]["load"], 0, False)
    return results


def cpu_normalised(figures: Figures, peers: list[str]) -> dict[str, dict]:
    """Requests per CPU-second of the server's own processes, kit over each peer, at c=8.

    Not a goal line, a reading aid: when other work keeps the cores busy, each server gets
    the share of the CPU its runnable threads win from the scheduler, so req/s measures that
    share as much as the server (a peer answering from a thread pool keeps more threads
    runnable than the kit's one event-loop thread per worker). The cores each server kept
    busy are printed with it; on an idle machine both ratios agree."""
    readings: dict[str, dict] = {}
    print()
    for rows in ROWS:
        kit = figures[KIT, rows, 8]
        for peer in peers:
            other = figures[peer, rows, 8]
            ratio = other["cpu_us"] / kit["cpu_us"]
            print(
                f"requests per server CPU-second kit/{peer}, {rows} row(s), c=8 = {ratio:.2f} "
                f"(req/s {kit['rps'] / other['rps']:.2f}; cores busy: kit {kit['cores']:.2f}, "
                f"{peer} {other['cores']:.2f}) [load {(kit['load'] + other['load']) / 2:.1f}]"
            )
            readings[f"{peer} {rows} row(s)"] = {
                "cpu_ratio": ratio,
                "rps_ratio": kit["rps"] / other["rps"],
                "kit_cores": kit["cores"],
                "peer_cores": other["cores"],
            }
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "models/model.onnx")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per server and cell")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of the goals' 1-row cells (see goal_rounds)"
    )
    parser.add_argument("--starts", type=int, default=3, help="cold starts per server")
    parser.add_argument("--workers", type=int, default=2, help="workers of every server")
    parser.add_argument(
        "--servers",
        default=",".join(ALL_SERVERS),
        help="comma-separated servers to measure; kit and floor always run (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="1 s runs, 1 repeat: a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.repeats, args.starts, args.rounds = 1.0, 1, 1, 1
    wanted = [KIT, FLOOR, *(s for s in args.servers.split(",") if s not in (KIT, FLOOR))]
    unknown = [name for name in wanted if name not in ALL_SERVERS]
    if unknown:
        sys.exit(f"unknown servers {unknown}; choose from {', '.join(ALL_SERVERS)}")
    if shutil.which("wrk") is None:
        sys.exit("wrk, the load generator, is missing: apt-get install -y wrk")
    model = args.model.resolve()
    if not model.is_file():
        sys.exit(f"{args.model}: no model; run `make run` (or pass --model)")
    with tempfile.TemporaryDirectory(prefix="runwright-bench-serve-") as tmp:
        workspace = Path(tmp)
        servers, skipped = make_servers(workspace, model, args.workers, wanted)
        bodies = write_bodies(workspace, model)
        for name, server in list(servers.items()):
            try:
                server.start()
                check_answers(server, bodies[server.body_format, 1])
            except RuntimeError as exc:
                if name in (KIT, FLOOR):
                    raise
                skipped[name] = f"does not serve here: {exc}"
                del servers[name]
            finally:
                server.stop()
        for name, reason in skipped.items():
            print(f"SKIP {name}: {reason}")
        starts = cold_starts(servers, args.starts)
        try:
            for server in servers.values():
                server.start()
            print(
                f"model {args.model}, {args.workers} workers each, {args.duration:g} s per run, "
                f"{args.repeats} runs per cell"
            )
            figures = measure(servers, bodies, args.duration, args.repeats)
            fastest = fastest_peer(figures, peers_of(servers), 1) if peers_of(servers) else None
            rounds = goal_rounds(servers, bodies, args.duration, args.rounds, fastest)
        finally:
            for server in servers.values():
                server.stop()
    print(
        "cold start to ready (median): "
        + ", ".join(f"{name} {value['seconds']:.2f} s" for name, value in starts.items())
    )
    peers = peers_of(servers)
    ratio_table(figures, starts, peers)
    results = goals(figures, rounds, starts, peers)
    normalised = cpu_normalised(figures, peers)
    write_results(
        "serve",
        {
            "quick": args.quick,
            "cells": [
                {"server": s, "rows": r, "concurrency": c} | v for (s, r, c), v in figures.items()
            ],
            "goal_rounds": {
                f"{rows} row(s), c={connections}": runs
                for (rows, connections), runs in rounds.items()
            },
            "cold_start": starts,
            "skipped": skipped,
            "goals": results,
            "cpu_normalised_c8": normalised,
        },
    )


if __name__ == "__main__":
    main()
