"""One edit to switch: the bundled digits example becomes a 400-row regression CSV by changing
only `prepare` (the source and its columns) and `train.model`. Everything else follows the
data: the test-set plot, the gate's score metric, the served model's name, the search space."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from ml.config import load_params
from tests.conftest import make_pipeline_repo
from tests.helpers import run, run_ml
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.e2e

ROWS = 400


def write_fuel_csv(path) -> None:
    """Litres per 100 km of 400 made-up cars: linear in engine size and weight, with noise."""
    rng = np.random.default_rng(3)
    engine = rng.uniform(1.0, 5.0, ROWS).round(1)
    weight = (800 + engine * 260 + rng.normal(0, 150, ROWS)).round()
    fuel = rng.choice(["petrol", "diesel"], ROWS)
    litres = 2 + 1.2 * engine + weight / 700 - 0.9 * (fuel == "diesel") + rng.normal(0, 0.4, ROWS)
    frame = pd.DataFrame(
        {"engine": engine, "weight": weight, "fuel": fuel, "litres_per_100km": litres.round(2)}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def test_a_400_row_csv_needs_only_the_source_and_the_model(tmp_path):
    shipped = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    params = json.loads(json.dumps(shipped))
    params["prepare"] |= {
        "source": {"path": "data/raw/fuel.csv"},
        "task": "regression",
        "target": "litres_per_100km",
        "numeric_features": ["engine", "weight"],
        "categorical_features": ["fuel"],
    }
    params["train"]["model"] = "mlp"
    changed = {section for section in shipped if shipped[section] != params[section]}
    assert changed == {"prepare", "train"}  # the two edits, nothing else
    assert {k for k in shipped["train"] if shipped["train"][k] != params["train"][k]} == {"model"}
    repo, env = make_pipeline_repo(tmp_path / "repo", params)
    write_fuel_csv(repo / "data/raw/fuel.csv")

    run(["dvc", "repro"], repo, env)

    evaluate = json.loads((repo / "metrics/evaluate.json").read_text())
    assert evaluate["task"] == "regression" and evaluate["r2"] > 0.5
    # The regression plot gets the test rows; the classification one only its header.
    assert len((repo / "plots/evaluate/scatter.csv").read_text().splitlines()) == 1 + 60
    assert (repo / "plots/evaluate/confusion.csv").read_text() == "actual,predicted\n"
    plots = run(["dvc", "plots", "show", "-o", "dvc_plots"], repo, env)
    assert "failed" not in (plots.stdout + plots.stderr).lower()
    assert json.loads((repo / "metrics/export.json").read_text())["verified"] is True
    loaded = load_params(repo / "params.yaml")
    assert loaded.serve.model_name == "fuel"
    assert {"mlp.units", "learning_rate"} <= set(loaded.tune.space)
    # The shipped gate (min_score 0.8) now holds r2, the regression score.
    gate = run_ml("gate", "--params", "params.yaml", cwd=repo, env=env)
    output = gate.stdout + gate.stderr
    assert f"r2 {evaluate['r2']:.4f}" in output
    assert gate.returncode == (0 if evaluate["r2"] >= 0.8 else 1)
