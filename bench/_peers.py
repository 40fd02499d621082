"""The model servers a team might pick instead of the kit, for bench/serve.py. Each lives in
bench/peers/<name>/ (its app and a hashed requirements.txt made with `uv pip compile
--generate-hashes`) and is installed into its own environment under .cache/bench/<name>, outside
the project's lock; the environment is rebuilt when its requirements file changes.

Every peer serves the same ONNX file with onnxruntime at one intra-op thread per worker and the
bench's worker count, answering {"instances": [[row], ...]} with its probabilities.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from _common import REPO_ROOT, VENV_BIN

PEERS_DIR = Path(__file__).resolve().parent / "peers"
ENVS_DIR = REPO_ROOT / ".cache" / "bench"


class PeerUnavailable(RuntimeError):
    """The peer cannot run here (no network to install it, a failed install); says why."""


@dataclasses.dataclass(frozen=True)
class Peer:
    name: str
    # The command in the peer's directory; PYTHON, PORT and WORKERS are replaced.
    command: tuple[str, ...]
    ready: str
    infer: str


PEERS = {
    peer.name: peer
    for peer in (
        Peer(
            "fastapi",
            (
                "PYTHON",
                "-m",
                "uvicorn",
                "app:app",
                "--port",
                "PORT",
                "--workers",
                "WORKERS",
                "--log-level",
                "warning",
                "--no-access-log",
            ),
            "/ready",
            "/predict",
        ),
        Peer(
            "kserve",
            (
                "PYTHON",
                "model.py",
                "--http_port",
                "PORT",
                "--workers",
                "WORKERS",
                "--enable_grpc",
                "false",
            ),
            "/v1/models/digits",
            "/v1/models/digits:predict",
        ),
        Peer("litserve", ("PYTHON", "server.py"), "/health", "/predict"),
        Peer(
            "bentoml",
            (
                "PYTHON",
                "-m",
                "bentoml",
                "serve",
                "service:OnnxService",
                "--port",
                "PORT",
                "--host",
                "127.0.0.1",
            ),
            "/readyz",
            "/predict",
        ),
    )
}


def environment(name: str) -> Path:
    """The peer's Python, installing its environment first when missing or out of date."""
    requirements = PEERS_DIR / name / "requirements.txt"
    # Changes with the requirements and with how they are installed.
    digest = hashlib.sha256(requirements.read_bytes() + b"compile-bytecode").hexdigest()
    env = ENVS_DIR / name
    python = env / "bin" / "python"
    stamp = env / ".requirements-sha256"
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    uv = shutil.which("uv", path=str(VENV_BIN)) or shutil.which("uv")
    if uv is None:
        raise PeerUnavailable("uv is missing (it is in the dev lock: run `make setup`)")
    print(f"installing {name} into {env} from {requirements.relative_to(REPO_ROOT)}", flush=True)
    shutil.rmtree(env, ignore_errors=True)
    steps = (
        [uv, "venv", "--quiet", "--python", sys.executable, str(env)],
        [
            uv,
            "pip",
            "sync",
            "--quiet",
            "--require-hashes",
            # Bytecode compiled at install, as `make setup` does: without it each spawned
            # worker compiles every module it imports (KServe kills a worker silent for 5 s).
            "--compile-bytecode",
            "--python",
            str(python),
            str(requirements),
        ],
    )
    # uv writes no bytecode while PYTHONDONTWRITEBYTECODE is set.
    variables = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False, env=variables)
        if result.returncode != 0:
            shutil.rmtree(env, ignore_errors=True)
            tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
            raise PeerUnavailable(f"cannot install it: {tail[0]}")
    stamp.write_text(digest)
    return python
