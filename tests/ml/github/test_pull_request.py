"""`ml pull-request`: results committed to the experiment's branch, pushed with real git to a
local bare repository, and the pull request opened, then updated, through the GitHub REST API
(the fake of it on 127.0.0.1: tests/fake_github.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import make_pipeline_repo, tiny_params
from tests.fake_github import FakeGitHub
from tests.helpers import read_outputs, run

BRANCH = "runwright/retrain-1a2b3c4d"


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, dict]:
    """A pipeline repository with a bare `origin`, as actions/checkout leaves it."""
    repo, env = make_pipeline_repo(tmp_path / "repo", tiny_params())
    origin = tmp_path / "origin.git"
    run(["git", "clone", "-q", "--bare", str(repo), str(origin)], tmp_path, env)
    run(["git", "remote", "add", "origin", str(origin)], repo, env)
    monkeypatch.chdir(repo)
    # A runner has no Git identity: no global or system config, no identity variables.
    (tmp_path / "gitconfig").write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key in ("AUTHOR_NAME", "AUTHOR_EMAIL", "COMMITTER_NAME", "COMMITTER_EMAIL"):
        monkeypatch.delenv(f"GIT_{key}", raising=False)
    return repo, origin, env


def write_results(repo: Path, accuracy: float) -> None:
    """What a retraining leaves: changed params, new metrics, a model DVC keeps out of Git."""
    params = (repo / "params.yaml").read_text().replace("epochs: 3", "epochs: 4")
    (repo / "params.yaml").write_text(params)
    (repo / "metrics").mkdir(exist_ok=True)
    (repo / "metrics/evaluate.json").write_text(json.dumps({"accuracy": accuracy}))
    (repo / "models").mkdir(exist_ok=True)
    (repo / "models/model.keras").write_bytes(b"weights")
    (repo / "models/.gitignore").write_text("/model.keras\n")


def invoke(cli, *extra: str):
    args = ["pull-request", "--branch", BRANCH, "--title", "Retrain: more epochs", *extra]
    from ml.cli import app

    return cli.invoke(app, args)


def test_opens_then_updates_one_pull_request(cli, clone, fake_github: FakeGitHub, tmp_path):
    repo, origin, env = clone
    write_results(repo, 0.91)
    report = tmp_path / "report.md"
    report.write_text("## Report\n\naccuracy 0.91\n")
    result = invoke(cli, "--body-files", str(report))
    assert result.exit_code == 0, result.output
    (pull,) = fake_github.pulls
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (BRANCH, "main")
    assert "accuracy 0.91" in pull["body"]
    files = run(["git", "ls-tree", "-r", "--name-only", BRANCH], origin, env).stdout.split()
    assert {"params.yaml", "metrics/evaluate.json", "models/.gitignore"} <= set(files)
    assert "models/model.keras" not in files
    assert (
        run(["git", "rev-parse", "main"], origin, env).stdout
        == run(["git", "rev-parse", "main"], repo, env).stdout
    )  # main untouched
    author = run(["git", "log", "-1", "--format=%an", BRANCH], origin, env).stdout.strip()
    assert author == "github-actions[bot]"

    # A second run of the same retraining: same branch, same pull request, new content.
    run(["git", "checkout", "-q", "main"], repo, env)
    write_results(repo, 0.95)
    report.write_text("## Report\n\naccuracy 0.95\n")
    result = invoke(cli, "--body-files", str(report))
    assert result.exit_code == 0, result.output
    assert len(fake_github.pulls) == 1
    assert "accuracy 0.95" in fake_github.pulls[0]["body"]
    assert fake_github.paths("PATCH") == [f"/repos/{fake_github.repository}/pulls/1"]
    shown = run(["git", "show", f"{BRANCH}:metrics/evaluate.json"], origin, env).stdout
    assert json.loads(shown) == {"accuracy": 0.95}


def test_writes_step_outputs(cli, clone, fake_github: FakeGitHub, tmp_path, monkeypatch):
    repo, _, _ = clone
    write_results(repo, 0.9)
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    assert invoke(cli).exit_code == 0
    written = read_outputs(outputs)
    assert (written["number"], written["operation"]) == ("1", "opened")
    assert written["url"] == fake_github.pulls[0]["html_url"]


@pytest.mark.parametrize("branch", ["main", "-delete", "a..b", "feature/x.lock"])
def test_refuses_the_default_branch_and_bad_names(cli, clone, fake_github, branch: str):
    repo, origin, env = clone
    write_results(repo, 0.9)
    from ml.cli import app

    result = cli.invoke(app, ["pull-request", "--branch", branch, "--title", "t"])
    assert result.exit_code == 1
    assert "refusing to push" in result.output or "not a valid branch name" in result.output
    assert fake_github.pulls == []
    branches = run(["git", "branch", "--list"], origin, env).stdout.split()
    assert branches == ["*", "main"]


def test_nothing_changed_means_no_pull_request(cli, clone, fake_github):
    result = invoke(cli)
    assert result.exit_code == 1
    assert "changed nothing that Git tracks" in result.output
    assert fake_github.pulls == []


def test_a_bad_token_is_a_clear_error_before_any_push(cli, clone, fake_github, monkeypatch):
    repo, origin, env = clone
    write_results(repo, 0.9)
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    result = invoke(cli)
    assert result.exit_code == 1
    assert "GitHub API at http://127.0.0.1" in result.output and "401" in result.output
    assert "Traceback" not in result.output
    assert BRANCH not in run(["git", "branch", "--list"], origin, env).stdout
