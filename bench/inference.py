"""Inference latency: onnxruntime against Keras, on the model the pipeline produces.

Measured in this process: the median latency of one call of

  onnxruntime  InferenceSession.run (CPUExecutionProvider, default thread settings)
  predict      keras Model.predict(x, batch_size=len(x), verbose=0), its best case: one batch
  call         model(x, training=False), the eager call

for one row and for a batch of 256 rows of the prepared test data (the same float32 array for
all three). The methods take turns in short rounds (every method and batch size per round,
the order reversed every other round), each first warmed up untimed. The models come from
`dvc repro export` in a temporary clone, or from --model/--onnx (rows from --data, or random
rows of the model's input shape: latency does not depend on the values).

Goal: single-row onnxruntime at least 50x faster than single-row Keras predict.
"""

from __future__ import annotations

import functools
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import _common as common
import numpy as np

NAME = "inference"
GOAL_SPEEDUP = 50.0
BATCH = 256
WARMUP_CALLS = 5
# (faster, slower) pairs whose latency ratio is printed as a speedup.
PAIRS = (("onnxruntime", "predict"), ("onnxruntime", "call"), ("call", "predict"))


def parse_args():
    parser = common.base_parser(__doc__, repeats=7)
    parser.add_argument("--model", type=Path, help="A .keras model (with --onnx: no pipeline).")
    parser.add_argument("--onnx", type=Path, help="The same model as .onnx.")
    parser.add_argument("--data", type=Path, help="Prepared data directory (test.npz rows).")
    parser.add_argument(
        "--round-seconds",
        type=float,
        default=0.4,
        help="Time each method and batch size gets per round (default: %(default)s).",
    )
    args = parser.parse_args()
    if (args.model is None) != (args.onnx is None):
        parser.error("give both --model and --onnx, or neither (to run the pipeline)")
    return args


def build_models(root: Path, repo: Path, quick: bool) -> tuple[Path, Path, Path]:
    """`dvc repro export` (prepare, train, export) in a fresh clone; model, onnx, data paths."""
    env = common.tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}")
    clone = common.clone_repo(repo, root / "repo", env)
    if quick:
        # Latency depends on the architecture, not on how long it trained.
        params = clone / "params.yaml"
        common.write_params(params, params, epochs=2, patience=None)
    common.run([common.DVC, "repro", "export"], clone, env)
    return clone / "models/model.keras", clone / "models/model.onnx", clone / "data/prepared"


def input_rows(data: Path | None, session) -> np.ndarray:
    if data is not None:
        with np.load(data / "test.npz") as arrays:
            rows: np.ndarray = arrays["x"].astype(np.float32, copy=False)
            return rows
    shape = session.get_inputs()[0].shape[1:]
    return np.random.default_rng(0).random((BATCH, *shape), dtype=np.float32)


def timed_calls(function: Callable[[], object], budget: float) -> list[float]:
    """Per-call seconds of `function`, called for `budget` seconds (at least 3 calls)."""
    timings: list[float] = []
    deadline = time.perf_counter() + budget
    while len(timings) < 3 or time.perf_counter() < deadline:
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return timings


def methods(model, session) -> dict[str, Callable[[np.ndarray], object]]:
    input_name = session.get_inputs()[0].name
    return {
        "onnxruntime": lambda x: session.run(None, {input_name: x}),
        "predict": lambda x: model.predict(x, batch_size=len(x), verbose=0),
        "call": lambda x: model(x, training=False),
    }


def measure(model, session, rows: np.ndarray, repeats: int, budget: float) -> dict:
    inputs = {"1 row": rows[:1], f"{BATCH} rows": np.resize(rows, (BATCH, *rows.shape[1:]))}
    cases: dict[tuple[str, str], Callable[[], list[float]]] = {}
    for method, function in methods(model, session).items():
        for size, x in inputs.items():
            for _ in range(WARMUP_CALLS):  # first calls trace graphs and allocate buffers
                function(x)
            cases[(method, size)] = functools.partial(
                timed_calls, functools.partial(function, x), budget
            )
    rounds = common.interleave(cases, repeats)  # per case, one list of call timings per round
    return {key: list(itertools.chain.from_iterable(lists)) for key, lists in rounds.items()}


def max_abs_diff(model, session, rows: np.ndarray) -> float:
    """ORT against Keras on the rows used: a fast answer from a wrong model would be no answer."""
    batch = np.resize(rows, (BATCH, *rows.shape[1:]))
    ort_out = session.run(None, {session.get_inputs()[0].name: batch})[0]
    return float(np.max(np.abs(ort_out - model.predict(batch, batch_size=BATCH, verbose=0))))


def main() -> int:
    args = parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads
    repeats = 2 if args.quick else args.repeats
    budget = 0.1 if args.quick else args.round_seconds
    with common.workspace(NAME, args.keep) as root:
        model_path, onnx_path, data = args.model, args.onnx, args.data
        if model_path is None:
            print(f"Running `dvc repro export` in a clone of {args.repo} ...", flush=True)
            model_path, onnx_path, data = build_models(root, args.repo, args.quick)
        import keras
        import onnxruntime as ort

        model = keras.models.load_model(model_path)
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        rows = input_rows(data, session)
        print(f"Timing {repeats} rounds of {budget} s per method and batch size ...", flush=True)
        samples = measure(model, session, rows, repeats, budget)
        diff = max_abs_diff(model, session, rows)
    return report(samples, diff, args.quick)


def report(samples: dict, diff: float, quick: bool) -> int:
    median_us = {key: statistics.median(values) * 1e6 for key, values in samples.items()}
    names = list(dict.fromkeys(method for method, _ in samples))
    sizes = list(dict.fromkeys(size for _, size in samples))
    common.print_table(
        ["method", *(f"{size} median us (calls)" for size in sizes)],
        [
            [name, *(f"{median_us[name, s]:.1f} ({len(samples[name, s])})" for s in sizes)]
            for name in names
        ],
    )
    speedups = {
        f"{fast} vs {slow}, {size}": median_us[slow, size] / median_us[fast, size]
        for size in sizes
        for fast, slow in PAIRS
    }
    for label, value in speedups.items():
        print(f"speedup {label}: {value:.1f}x")
    print(f"max |onnxruntime - keras| on the {BATCH}-row batch: {diff:.2g}")
    single = speedups["onnxruntime vs predict, 1 row"]
    result = common.print_goal(
        "single-row speedup onnxruntime vs predict", single, GOAL_SPEEDUP, higher_is_better=True
    )
    common.write_results(
        NAME,
        {
            "goal": {"single_row_speedup_min": GOAL_SPEEDUP},
            "median_us": {f"{method}, {size}": us for (method, size), us in median_us.items()},
            "calls": {f"{method}, {size}": len(v) for (method, size), v in samples.items()},
            "speedups": speedups,
            "max_abs_diff": diff,
            "result": result,
            "quick": quick,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
