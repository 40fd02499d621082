"""The pull-request story end to end, with the real tools: a weak model is committed on main;
on a branch `ml gate` fails it, `ml tune` searches a better architecture and reproduces the
pipeline with `dvc repro`, the gate passes, and `ml report --post` comments on the PR (posted to
the fake GitHub API, tests/fake_github.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import make_pipeline_repo, tiny_params
from tests.fake_github import FakeGitHub
from tests.helpers import read_outputs, run, run_ml

pytestmark = pytest.mark.e2e

# One epoch of a 4-unit network: far below the 80 % the gate asks for.
WEAK_TRAIN = {
    "model": "mlp",
    "epochs": 1,
    "batch_size": 64,
    "learning_rate": 0.001,
    "mlp": {"units": [4], "dropout_rate": 0.5},
}
SEARCH = {
    "trials": 2,
    "timeout_minutes": 5,
    "space": {
        "mlp.units": {"choices": [[32], [64]]},
        "mlp.dropout_rate": {"choices": [0.0, 0.1]},
        "epochs": {"choices": [8]},
        "learning_rate": {"low": 0.005, "high": 0.01, "log": True},
    },
}


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("story")
    params = tiny_params(**WEAK_TRAIN) | {
        "gate": {"min_accuracy": 0.8, "max_regression": 0.02},
        "tune": SEARCH,
    }
    repo, env = make_pipeline_repo(root / "repo", params)
    run(["dvc", "repro"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "weak model"], repo, env)
    base = run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()
    run(["git", "checkout", "-q", "-b", "search"], repo, env)
    event = root / "event.json"
    head_ref = {"sha": base, "ref": "search"}
    event.write_text(
        json.dumps(
            {"pull_request": {"number": 3, "base": {"sha": base, "ref": "main"}, "head": head_ref}}
        )
    )
    actions = env | {"GITHUB_EVENT_PATH": str(event), "GITHUB_REPOSITORY": "octo/models"}
    story = {"repo": repo, "base": base}
    story["gate_before"] = gate(repo, actions, root / "before.txt")
    story["tune"] = run_ml("tune", cwd=repo, env=env, check=True, timeout=1200)
    story["head_after_tune"] = run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()
    story["gate_after"] = gate(repo, actions, root / "after.txt")
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-q", "-m", "tuned"], repo, env)
    summary = root / "summary.md"
    with FakeGitHub(repository="octo/models") as github:
        github.add_pull(3)
        posting = actions | {
            "GITHUB_API_URL": github.url,
            "GITHUB_TOKEN": github.token,
            "GITHUB_STEP_SUMMARY": str(summary),
        }
        story["report"] = run_ml("report", "--post", cwd=repo, env=posting, check=True)
    story |= {"comments": github.comments.get(3, []), "summary": summary.read_text()}
    return story


def gate(repo: Path, env: dict, outputs: Path) -> dict:
    result = run_ml("gate", cwd=repo, env=env | {"GITHUB_OUTPUT": str(outputs)})
    return {"returncode": result.returncode, "stderr": result.stderr, **read_outputs(outputs)}


def test_the_weak_model_fails_the_gate(story: dict) -> None:
    before = story["gate_before"]
    assert before["returncode"] == 1
    assert before["passed"] == "false"
    assert before["reason"].startswith("accuracy 0.")
    assert "< gate.min_accuracy 0.8" in before["reason"]
    assert f"Quality gate failed: {before['reason']}" in before["stderr"]


def test_tune_writes_a_better_architecture_and_reproduces(story: dict) -> None:
    repo = story["repo"]
    tune_table = json.loads((repo / "metrics/tune.json").read_text())
    assert len(tune_table["trials"]) == 2
    params = yaml.safe_load((repo / "params.yaml").read_text())
    best = tune_table["best"]["overrides"]
    assert params["train"]["mlp"]["units"] == best["mlp.units"] != [4]
    assert params["train"]["epochs"] == 8
    # dvc repro ran with the new settings: the lock records them.
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert lock["stages"]["train"]["params"]["params.yaml"]["train"]["epochs"] == 8
    evaluate = json.loads((repo / "metrics/evaluate.json").read_text())
    assert evaluate["accuracy"] >= 0.8


def test_tune_never_commits(story: dict) -> None:
    assert story["head_after_tune"] == story["base"]


def test_the_tuned_model_passes_the_gate(story: dict) -> None:
    after = story["gate_after"]
    assert after["returncode"] == 0, after["stderr"]
    assert after["passed"] == "true"
    assert "no regression" in after["reason"]


def test_the_pr_gets_one_report_comment(story: dict) -> None:
    assert len(story["comments"]) == 1
    body = story["comments"][0]["body"]
    assert body == (story["repo"] / "reports/report.md").read_text()
    assert body.startswith("<!-- runwright-report -->\n## ✅ Success: quality gate passed")
    assert f"is **better** than base `main` (`{story['base'][:12]}`)" in body
    assert "| `train.mlp.units` | `[4]` |" in body
    assert "### Architecture search: 2 trials, best by val_accuracy (maximize)" in body
    assert "```mermaid\n" in body and "### Confusion matrix" in body
    assert story["summary"] == body
