"""`ml report` as a process in a real Git repository: base metrics read from the PR's base commit,
report file, job summary, PNG charts, the sticky comment (on the fake GitHub API,
tests/fake_github.py) and the webhook."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from ml.results.run import RunResults
from tests.fake_github import FakeGitHub
from tests.helpers import run_ml
from tests.ml.conftest import GitRepo, Hook
from tests.ml.report import cases as report_cases

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GATE = {"min_accuracy": 0.8, "max_regression": 0.02}


def run_files(run: RunResults) -> dict[str, str]:
    """The files a pipeline run leaves in the repository, from `run`."""
    history = io.StringIO()
    writer = csv.DictWriter(history, fieldnames=list(run.history[0]))
    writer.writeheader()
    writer.writerows(run.history)
    predictions = "actual,predicted\n" + "".join(f"{a},{p}\n" for a, p in run.predictions)
    params = (run.params or {}) | {"gate": GATE}
    return {
        "params.yaml": yaml.safe_dump(params),
        "metrics/evaluate.json": json.dumps(run.evaluate),
        "metrics/train.json": json.dumps(run.train),
        "metrics/export.json": json.dumps(run.export),
        "plots/train/history.csv": history.getvalue(),
        "plots/evaluate/test_predictions.csv": predictions,
        "dvc.lock": "schema: '2.0'\n",
    }


def ml_report(repo: GitRepo, *args: str, **env: str) -> subprocess.CompletedProcess:
    return run_ml("report", *args, cwd=repo.path, env=os.environ | env, timeout=180)


@pytest.fixture
def pull_request(git_repo: GitRepo, tmp_path: Path) -> dict[str, str]:
    """A base commit with results, a PR commit improving on it, and the Actions environment of a
    pull_request event for that PR."""
    base = git_repo.commit(run_files(report_cases.classification_run(0.9, [32])), "base")
    git_repo.commit(run_files(report_cases.classification_run(0.9667, [64, 32])), "wider")
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "pull_request": {
                    "number": 7,
                    "base": {"sha": base, "ref": "main"},
                    "head": {"sha": git_repo.git("rev-parse", "HEAD")},
                }
            }
        )
    )
    return {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_SERVER_URL": "https://github.example",
        "GITHUB_RUN_ID": "42",
        "GITHUB_REPOSITORY": "octo/models",
        "BASE_SHA": base,
    }


def test_report_compares_with_the_pr_base(git_repo: GitRepo, pull_request: dict) -> None:
    result = ml_report(git_repo, **pull_request)
    assert result.returncode == 0, result.stderr
    text = (git_repo.path / "reports/report.md").read_text()
    assert f"is **better** than base `main` (`{pull_request['BASE_SHA'][:12]}`)" in text
    assert "| accuracy | 0.9000 | 0.9667 | 🟢 ▲ +0.0667 |" in text
    assert "| `train.mlp.units` | `[32]` | `[64, 32]` |" in text
    assert "### Quality gate: ✅ passed" in text
    assert "artifact `ml-report` of [this workflow run]" in text
    assert "(https://github.example/octo/models/actions/runs/42)" in text
    assert Path(pull_request["GITHUB_STEP_SUMMARY"]).read_text() == text
    charts = sorted(p.name for p in (git_repo.path / "reports/charts").iterdir())
    assert charts == ["comparison.png", "confusion_matrix.png", "learning_curves.png"]
    for name in charts:
        assert (git_repo.path / "reports/charts" / name).read_bytes()[:8] == PNG_MAGIC


def test_post_keeps_one_comment_and_notifies(
    git_repo: GitRepo, pull_request: dict, hook: Hook
) -> None:
    with FakeGitHub(repository="octo/models") as github:
        github.add_pull(7)
        env = pull_request | {
            "GITHUB_API_URL": github.url,
            "GITHUB_TOKEN": github.token,
            "ML_NOTIFY_WEBHOOK_URL": hook.url,
        }
        for _push in range(2):
            result = ml_report(git_repo, "--post", **env)
            assert result.returncode == 0, result.stderr
        comments = github.comments[7]
    assert len(comments) == 1
    assert comments[0]["body"] == (git_repo.path / "reports/report.md").read_text()
    assert [request.method for request in github.requests if request.method != "GET"] == [
        "POST",
        "PATCH",
    ]
    text = hook.bodies[-1]["text"]
    assert text.startswith("octo/models PR #7: ✅ Success: quality gate passed")
    assert "Best model: **mlp** (units [64, 32]" in text


def test_local_report_against_a_branch(git_repo: GitRepo) -> None:
    git_repo.commit(run_files(report_cases.classification_run(0.9333, [32])), "base")
    git_repo.git("branch", "stable")
    git_repo.commit(run_files(report_cases.classification_run(0.8667, [16])), "narrower")
    result = ml_report(git_repo, "--base-ref", "stable", "--out", "r.md", "--charts", "png")
    assert result.returncode == 0, result.stderr
    text = (git_repo.path / "r.md").read_text()
    assert "## ❌ Failure: quality gate failed" in text
    assert "is **worse** than base `stable`" in text
    assert "PNG charts: " in text and "in `png`" in text


def test_first_pr_with_no_metrics_at_the_base(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit({"README.md": "models\n"}, "empty base")
    git_repo.commit(run_files(report_cases.classification_run(0.9, [32])), "first model")
    result = ml_report(git_repo, "--base-ref", "HEAD~1")
    assert result.returncode == 0, result.stderr
    text = (git_repo.path / "reports/report.md").read_text()
    assert "**first run**, the base has no metrics yet, nothing to compare" in text


def test_no_metrics_is_an_error(git_repo: GitRepo) -> None:
    git_repo.commit({"params.yaml": "{}\n"}, "nothing yet")
    result = ml_report(git_repo)
    assert result.returncode == 1
    assert "metrics/evaluate.json not found: run `dvc repro` first" in result.stderr
    assert not (git_repo.path / "reports").exists()


def test_broken_base_metrics_name_the_commit_and_file(git_repo: GitRepo) -> None:
    files = run_files(report_cases.classification_run(0.9, [32]))
    git_repo.commit(files | {"metrics/evaluate.json": "{oops"}, "broken")
    git_repo.commit(files, "fixed")
    result = ml_report(git_repo, "--base-ref", "HEAD~1")
    assert result.returncode == 1
    assert "metrics/evaluate.json in the base commit" in result.stderr
    assert "cannot be read" in result.stderr


def test_a_marker_that_could_break_the_html_comment_is_refused(git_repo: GitRepo) -> None:
    git_repo.commit(run_files(report_cases.classification_run(0.9, [32])), "run")
    result = ml_report(git_repo, "--marker", "x --> <script>")
    assert result.returncode == 1
    assert "--marker must be letters, digits" in result.stderr


def test_search_table_shows_only_while_its_settings_are_in_params(git_repo: GitRepo) -> None:
    from ml.config import parse_params, section_hash

    files = run_files(report_cases.classification_run(0.9667, [64, 32]))
    table = report_cases.tune_table()
    table["train_hash"] = section_hash(parse_params(yaml.safe_load(files["params.yaml"])).train)
    git_repo.commit(files | {"metrics/tune.json": json.dumps(table)}, "tuned")
    assert ml_report(git_repo).returncode == 0
    assert "### Architecture search" in (git_repo.path / "reports/report.md").read_text()
    # A later hand edit of `train`: the old search no longer describes the model.
    params = yaml.safe_load(files["params.yaml"])
    params["train"]["learning_rate"] = 0.01
    (git_repo.path / "params.yaml").write_text(yaml.safe_dump(params))
    assert ml_report(git_repo).returncode == 0
    text = (git_repo.path / "reports/report.md").read_text()
    assert "### Architecture search" not in text and "search trials" not in text
