"""`ml serve` / `python -m ml.serve`: a clear error for a bad model, serving code that never loads
the training stack, and a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import run_ml
from tests.paths import REPO_ROOT
from tests.serving import free_port, wait_ready, write_serve_params

TRAINING_STACK = {"tensorflow", "keras", "pandas", "sklearn", "mlflow", "onnx", "tf2onnx", "dvc"}


def serve(*args: str) -> subprocess.CompletedProcess:
    return run_ml(*args, timeout=60, module="ml.serve")


def test_a_bad_model_stops_with_one_message(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"garbage")
    result = serve("--model", str(bad), "--port", str(free_port()))
    assert result.returncode == 1
    assert f"{bad}: onnxruntime cannot load it" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_serve_params_name_the_key(tmp_path, digits_onnx):
    params = write_serve_params(tmp_path / "params.yaml", workers=0)
    result = run_ml("serve", "--model", str(digits_onnx), "--params", str(params), timeout=60)
    assert result.returncode == 1
    assert "serve.workers: Input should be greater than or equal to 1" in result.stderr


def test_serving_never_imports_the_training_stack(digits_onnx):
    script = f"""
import json, sys
from ml.serve.app import create_app
from ml.serve.command import settings_for
from ml.config import ServeParams
from pathlib import Path
create_app(settings_for(ServeParams(), Path({str(digits_onnx)!r}), None))
print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}})))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert {"onnxruntime", "starlette", "numpy"} <= loaded
    assert "fastapi" not in loaded  # its import alone took a third of the start-up
    assert loaded & TRAINING_STACK == set()


@pytest.mark.e2e
def test_sigterm_stops_every_worker_gracefully(digits_onnx, tmp_path):
    port = free_port()
    params = write_serve_params(tmp_path / "params.yaml", port=port, workers=2)
    process = subprocess.Popen(
        [sys.executable, "-m", "ml.serve", "--model", str(digits_onnx), "--params", str(params)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"  # the port comes from the params file
        wait_ready(url, process=process)
        assert httpx.get(f"{url}/v2/models/digits").status_code == 200
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0
    # Every worker that started shut down gracefully. Ready means one worker answers, so SIGTERM
    # may reach the arbiter before the second has booted: count those started, not 2.
    started = output.count("Application startup complete.")
    assert started >= 1
    assert output.count("Application shutdown complete.") == started
    time.sleep(0.2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v2/health/live")


@pytest.mark.e2e
def test_ml_serve_hands_over_to_a_fresh_interpreter(digits_onnx, tmp_path):
    """`ml serve` (the whole CLI, pandas and all) execs `python -m ml.serve`: same process,
    none of the pipeline's imports in the service."""
    port = free_port()
    params = write_serve_params(tmp_path / "params.yaml", port=port, workers=1)
    process = subprocess.Popen(
        [sys.executable, "-m", "ml", "serve", "--model", str(digits_onnx), "--params", params],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process=process)
        proc = Path(f"/proc/{process.pid}")
        assert (proc / "cmdline").read_bytes().split(b"\0")[1:3] == [b"-m", b"ml.serve"]
        modules = (proc / "maps").read_text()  # the shared libraries it loaded
        assert "pandas" not in modules and "tensorflow" not in modules
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
