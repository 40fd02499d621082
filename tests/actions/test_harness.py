"""Each composite action's own `run:` steps, run in bash on the tiny pipeline in a temporary Git
repository with a real DVC remote (a directory), checked by the outputs and the job summary they
write. Negative cases prove an action fails where it should.

A case is one entry in CASES: the actions to run in order (one job), their inputs, the `ml`
commands they need (the case is skipped, naming the command, while that command is not part of
this build), the repository to run in and a check. To cover another action, add an entry.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from ml.cli import COMMANDS
from ml.deploy.report import MARKER as DEPLOY_MARKER
from ml.report.markdown import MARKER
from ml.results.run import ResultPaths
from ml.tune.remediation import COMMIT_SUBJECT, LABEL
from tests.actions.harness import ActionResult, Runner, run_action
from tests.conftest import make_pipeline_repo, tiny_params, tool_env
from tests.fake_github import FakeGitHub
from tests.helpers import run, run_ml
from tests.ml.tune.test_remediation import pull_request_payload
from tests.workflows.kit_files import output_values

pytestmark = pytest.mark.e2e

TUNE_TABLE = ResultPaths().metric_file("tune")  # what `ml report` reads
FORK_EVENT = {"pull_request": {"number": 7, "head": {"repo": {"full_name": "mallory/kit"}}}}


@dataclass(frozen=True)
class Call:
    action: str
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    id: str
    job: tuple[Call, ...]
    needs: tuple[str, ...]  # `ml` commands the actions call
    check: Callable[[list[ActionResult], Path], None]
    # fresh: the committed tiny pipeline; trained: a clone whose results the DVC remote holds;
    # base: the job that trained it (run once per module).
    repo: str = "fresh"
    fails: bool = False  # the last action must fail
    event: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)  # {section: {key: value}} merged into params.yaml
    cleanup: Callable[[Path], None] | None = None  # runs after the check, pass or fail
    # What the fake GitHub holds before the job, and what it must hold after: each is given the
    # fake and GITHUB_SHA (the repository's HEAD, as for a push of it).
    github_before: Callable[[FakeGitHub, str], None] | None = None
    github_after: Callable[[FakeGitHub, str], None] | None = None
    unless: Callable[[], str | None] | None = None  # a reason to skip on this machine, or None
    # What the job's earlier steps (checkouts, artifact downloads) leave in the working
    # directory; returns the event, whose commits it made. Runs after `params` is merged.
    prepare: Callable[[Path], dict] | None = None


# --- checks ----------------------------------------------------------------------------------


def check_setup(results: list[ActionResult], repo: Path) -> None:
    (setup,) = results
    assert setup.outputs["python"] == str(repo / "venv/bin/python")
    assert Path(setup.outputs["python"]).is_file()
    assert any("actions/setup-python@" in item for item in setup.skipped)
    assert any("astral-sh/setup-uv@" in item for item in setup.skipped)
    assert any("gpu-check" in item for item in setup.skipped)  # its `if:` was false
    local = (repo / ".dvc/config.local").read_text()
    assert "remote = ci" in local and "url = s3://harness-bucket/dvc" in local
    assert "secret_access_key = harness-secret" in local
    assert "::add-mask::harness-secret" in setup.log  # hidden in the job log from then on
    assert "harness-secret" not in (repo / ".dvc/config").read_text()


def check_route(results: list[ActionResult], repo: Path) -> None:
    (route,) = results
    assert json.loads(route.outputs["runs-on"]) == ["ubuntu-latest"]
    assert route.outputs["self-hosted"] == "false" and route.outputs["train"] == "true"
    assert route.outputs["gpu"] == "false"
    assert json.loads(route.outputs["overrides"]) == {"train.model": "mlp", "train.epochs": 2}


def check_route_fork(results: list[ActionResult], repo: Path) -> None:
    (route,) = results
    assert json.loads(route.outputs["runs-on"]) == ["ubuntu-latest"]
    assert "fork pull request gets route.fork" in route.outputs["reason"]


def check_refused_key(results: list[ActionResult], repo: Path) -> None:
    assert "train.epoch: unknown key. Did you mean 'epochs'?" in results[-1].log
    assert results[-1].outputs["runs-on"] == ""  # nothing routed
    assert "Traceback" not in results[-1].log


def check_renamed_input_refused(results: list[ActionResult], repo: Path) -> None:
    log = results[-1].log
    assert "Input 'model' has been deprecated with message: Renamed to model-kind." in log
    assert "the action input 'model' is now 'model-kind' (a model kind: cnn, mlp)" in log
    assert "Traceback" not in log
    assert not (repo / "models").exists()  # refused before any work


def check_trained(results: list[ActionResult], repo: Path) -> None:
    (train,) = results
    assert train.outputs["ran"].split() == ["prepare", "train", "export", "evaluate"]
    assert 0 <= json.loads(train.outputs["metrics"])["accuracy"] <= 1
    assert "| ran | prepare, train, export, evaluate |" in train.summary
    assert any("actions/cache/restore@" in item for item in train.skipped)
    pushed = run(["dvc", "status", "--cloud"], repo, tool_env(repo)).stdout
    assert "in sync" in pushed  # every output is in the DVC remote


def check_bad_stage(results: list[ActionResult], repo: Path) -> None:
    assert "trian" in results[-1].log
    assert not (repo / "models").exists()


def check_reused_export(results: list[ActionResult], repo: Path) -> None:
    (export,) = results
    assert export.outputs["ran"] == ""  # restored from the DVC remote, nothing retrained
    assert export.outputs["verified"] == "true"
    assert int(export.outputs["size-bytes"]) == (repo / "models/model.onnx").stat().st_size
    assert "| restored from the DVC remote | prepare, train, export |" in export.summary


def check_retrain_pull_request(results: list[ActionResult], repo: Path) -> None:
    experiment, pull_request = results
    assert json.loads(experiment.outputs["overrides"]) == {"evaluate.batch_size": 128}
    assert experiment.steps["experiment"]["ran"] == "evaluate"
    assert experiment.outputs["branch"] == f"runwright/{experiment.outputs['name']}"
    assert "| `evaluate.batch_size` | `128` |" in experiment.summary
    assert pull_request.outputs["operation"] == "opened"
    assert pull_request.outputs["number"] == "1"
    origin = repo.parent / "origin.git"
    shown = run(["git", "show", f"{experiment.outputs['branch']}:params.yaml"], origin, {})
    assert yaml.safe_load(shown.stdout)["evaluate"]["batch_size"] == 128


def check_bad_value(results: list[ActionResult], repo: Path) -> None:
    assert "train.epochs: Input should be greater than 0 (got -1)" in results[-1].log
    assert not (repo / "models").exists()  # refused before any training


def check_default_branch_refused(results: list[ActionResult], repo: Path) -> None:
    assert "refusing to push results to 'main'" in results[-1].log


def check_report_then_gate_passes(results: list[ActionResult], repo: Path) -> None:
    _, report, gate = results
    written = (repo / report.outputs["report"]).read_text()
    assert MARKER in written
    assert written.strip() in report.summary  # the same Markdown goes to the job summary
    assert "accuracy" in written
    assert gate.outputs["passed"] == "true"
    assert "accuracy" in gate.outputs["reason"]


def check_gate_fails(results: list[ActionResult], repo: Path) -> None:
    gate = results[-1]
    assert gate.outputs["passed"] == "false"
    assert "accuracy" in gate.outputs["reason"] and "0.999" in gate.outputs["reason"]


def check_gpu_required(results: list[ActionResult], repo: Path) -> None:
    log = results[-1].log
    assert "a GPU is required but none is usable" in log
    assert "requirements/gpu.txt" in log  # says what to fix


def check_tune_then_report(results: list[ActionResult], repo: Path) -> None:
    _, tune, report = results
    # The tune action writes its table where `ml report` reads it.
    assert (repo / tune.outputs["results"]).resolve() == (repo / TUNE_TABLE).resolve()
    table = json.loads((repo / TUNE_TABLE).read_text())
    assert len(table["trials"]) == 2
    best = table["best"]["overrides"]["learning_rate"]
    assert best in (0.005, 0.01)
    # The winner is written back into params.yaml (the dvc repro is skipped: repro false).
    assert yaml.safe_load((repo / "params.yaml").read_text())["train"]["learning_rate"] == best
    written = (repo / report.outputs["report"]).read_text()
    assert "### Architecture search: 2 trials" in written


def check_deploy_then_monitor(results: list[ActionResult], repo: Path) -> None:
    _, deploy, monitor = results
    assert deploy.outputs["status"] == "promoted"
    assert deploy.outputs["url"] == f"http://127.0.0.1:{SERVE_PORT}"
    version = deploy.outputs["version"]
    assert version and deploy.outputs["champion"] == version
    assert monitor.outputs["status"] == "checked" and monitor.outputs["healthy"] == "true"
    # The deployment's state and registry are where the next checkout cannot clean them.
    assert not (repo / ".deploy").exists()
    state = tool_cache(repo) / "runwright" / "octo" / "kit" / "deploy"
    assert (state / "deployment.json").is_file() and (state / "registry" / "mlflow.db").is_file()


def check_nothing_deployed(results: list[ActionResult], repo: Path) -> None:
    (monitor,) = results
    assert monitor.outputs == {
        "status": "nothing deployed",
        "healthy": "",
        "drift": "",
        "issue": "",  # no drift looked at, no issue
    }
    assert monitor.summary.startswith("## Monitor: nothing deployed")
    assert not (repo / ".deploy").exists()


def check_named_state_without_deployment(results: list[ActionResult], repo: Path) -> None:
    log = results[-1].log
    assert ".deploy/deployment.json: nothing deployed yet; run `ml deploy`" in log
    assert "Traceback" not in log


# --- remediation: `ml remediate` and `ml push-params` ---------------------------------------

FAILED_METRICS = {"task": "classification", "accuracy": 0.42, "f1_macro": 0.4}
REMEDIATION_GATE = {"gate": {"min_accuracy": 0.995}}


def git_out(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd, tool_env(cwd)).stdout.strip()


def trained_as(evaluate: dict, **payload_options) -> Callable[[Path], dict]:
    """The tune job before `remediate`: the training job's metrics downloaded into the checkout
    of the pull request's head; the event of that pull request."""

    def prepare(repo: Path) -> dict:
        git_out(repo, "commit", "-q", "-am", "The pull request's gate")  # the `params` merged
        (repo / "metrics").mkdir(exist_ok=True)
        (repo / "metrics" / "evaluate.json").write_text(json.dumps(evaluate))
        head = git_out(repo, "rev-parse", "HEAD")
        return pull_request_payload(head_sha=head, base_sha=head, **payload_options)

    return prepare


def check_remediation_refused(reason: str) -> Callable[[list[ActionResult], Path], None]:
    def check(results: list[ActionResult], repo: Path) -> None:
        (remediate,) = results
        assert remediate.outputs["remediated"] == "false"
        assert reason in remediate.outputs["reason"]
        assert remediate.outputs["changed"] == "false"
        assert remediate.outputs["passed"] == "" and remediate.outputs["report"] == ""
        assert any("outputs.remediated == 'true'" in item for item in remediate.skipped)
        assert remediate.summary.startswith("## Remediation: not run")
        # Refused before any work: nothing prepared, searched, written or reported.
        assert git_out(repo, "status", "--porcelain", "--", "params.yaml") == ""
        assert not (repo / "data" / "prepared").exists()
        assert not (repo / "metrics" / "tune.json").exists()
        assert not (repo / "metrics" / "remediation.json").exists()
        assert not (repo / "reports").exists()

    return check


TUNED_LEARNING_RATE = 0.0123


def pull_request_to_push(tuned_changes: dict) -> Callable[[Path], dict]:
    """The push-params job before its push: the pull request's branch `feature` in origin, its
    checkout at the tuned commit in `pull-request/`, and the tune job's artifact in `tuned/`
    (params.yaml with `tuned_changes`, {section: {key: value}}, and the report)."""

    def prepare(repo: Path) -> dict:
        base = git_out(repo, "rev-parse", "HEAD")
        git_out(repo, "checkout", "-q", "-b", "feature")
        (repo / "NOTE.md").write_text("A change.\n")
        git_out(repo, "add", "NOTE.md")
        git_out(repo, "commit", "-q", "-m", "A change")
        git_out(repo, "push", "-q", "origin", "feature")
        head = git_out(repo, "rev-parse", "HEAD")
        clone(repo.parent / "origin.git", repo / "pull-request")
        git_out(repo / "pull-request", "checkout", "-q", "--detach", head)
        tuned = yaml.safe_load((repo / "params.yaml").read_text())
        for section, values in tuned_changes.items():
            tuned[section].update(values)
        (repo / "tuned" / "reports").mkdir(parents=True)
        (repo / "tuned" / "params.yaml").write_text(yaml.safe_dump(tuned, sort_keys=False))
        report = f"<!-- {MARKER} -->\n## Failure\n\n### Remediation: tried\n"
        (repo / "tuned" / "reports" / "report.md").write_text(report)
        return pull_request_payload(head_sha=head, base_sha=base)

    return prepare


PUSH_INPUTS = {
    "tuned": "tuned/params.yaml",
    "checkout": "pull-request",
    "report": "tuned/reports/report.md",
}


def check_params_pushed(results: list[ActionResult], repo: Path) -> None:
    (pushed,) = results
    origin = repo.parent / "origin.git"
    head = git_out(repo, "rev-parse", "feature")  # the tuned commit, as the event names it
    tip = git_out(origin, "rev-parse", "feature")
    assert pushed.outputs == {"pushed": "true", "sha": tip}
    assert tip != head and git_out(origin, "rev-parse", f"{tip}^") == head
    assert git_out(repo / "pull-request", "rev-parse", "HEAD") == tip
    assert git_out(origin, "diff", "--name-only", f"{tip}^", tip) == "params.yaml"
    assert git_out(origin, "log", "-1", "--format=%s", tip) == COMMIT_SUBJECT
    on_branch = yaml.safe_load(git_out(origin, "show", f"{tip}:params.yaml"))
    assert on_branch == yaml.safe_load((repo / "tuned" / "params.yaml").read_text())
    assert on_branch["train"]["learning_rate"] == TUNED_LEARNING_RATE
    assert git_out(origin, "rev-parse", "main") == git_out(repo, "rev-parse", "main")
    assert pushed.summary.startswith("## Remediation pushed")


def check_overreach_refused(results: list[ActionResult], repo: Path) -> None:
    log = results[-1].log
    assert "changes gate, not only `train`: refusing to push it" in log
    assert "Traceback" not in log
    origin = repo.parent / "origin.git"
    assert git_out(origin, "rev-parse", "feature") == git_out(repo, "rev-parse", "feature")
    checkout = repo / "pull-request"
    assert git_out(checkout, "rev-parse", "HEAD") == git_out(repo, "rev-parse", "feature")
    assert git_out(checkout, "status", "--porcelain") == ""  # params.yaml untouched


def pull_request_seven(fake: FakeGitHub, sha: str) -> None:
    fake.add_pull(7, head="feature")


def report_comment_names_the_push(fake: FakeGitHub, sha: str) -> None:
    (comment,) = fake.comments[7]
    assert MARKER in comment["body"] and "### Remediation: tried" in comment["body"]
    assert "**Pushed:** the winning `params.yaml` is commit `" in comment["body"]
    assert "on `feature`" in comment["body"]


def no_comment(fake: FakeGitHub, sha: str) -> None:
    assert fake.comments.get(7, []) == []


def merged_pull_request(fake: FakeGitHub, sha: str) -> None:
    """The push to main that the release job deploys is the merge of pull request #5."""
    fake.add_pull(5, head="better-model", merge_commit_sha=sha)


def deploy_commented_once(fake: FakeGitHub, sha: str) -> None:
    (pull,) = [pull for pull in fake.pulls if pull["merge_commit_sha"] == sha]
    comments = fake.comments.get(pull["number"], [])
    assert len(comments) == 1, f"{len(comments)} comments on the merged pull request"
    assert DEPLOY_MARKER in comments[0]["body"]
    assert "promoted" in comments[0]["body"]


def tool_cache(repo: Path) -> Path:
    """The runner's tool cache of a case, beside its repository: a job's deployment state lives
    there (ml.deploy.state), outside the checkout."""
    return repo.parent / "tool-cache"


def stop_deployment(repo: Path) -> None:
    """`ml deploy --stop` as a step of the job would run it."""
    job = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "octo/kit"}
    run_ml("deploy", "--stop", cwd=repo, env=tool_env(repo) | job | runner_env(repo))


def runner_env(repo: Path) -> dict[str, str]:
    return {"RUNNER_TOOL_CACHE": str(tool_cache(repo))}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVE_PORT = free_port()

SETUP_INPUTS = {
    "venv": "venv",
    "compile-bytecode": "false",
    "dvc-remote-url": "s3://harness-bucket/dvc",
    "dvc-remote-credentials": "access_key_id=AKIAHARNESS\nsecret_access_key=harness-secret",
}

CASES = [
    Case(
        "setup",
        (Call("setup", SETUP_INPUTS),),
        needs=("dvc-remote",),
        check=check_setup,
    ),
    Case(
        # This machine has no GPU: asking setup for the preflight must stop the job, saying why.
        "setup-gpu-check-without-gpu",
        (Call("setup", SETUP_INPUTS | {"gpu-check": "true"}),),
        needs=("dvc-remote", "gpu-check"),
        check=check_gpu_required,
        fails=True,
        unless=lambda: "this machine has an NVIDIA driver" if shutil.which("nvidia-smi") else None,
    ),
    Case(
        "route",
        (Call("route", {"overrides": "train.model=mlp", "epochs": "2"}),),
        needs=("route",),
        check=check_route,
    ),
    Case(
        "route-model-kind",
        (Call("route", {"model-kind": "mlp", "epochs": "2"}),),
        needs=("route",),
        check=check_route,
    ),
    Case(
        # `model` was the model kind's old name: GitHub only warns, the step must fail.
        "route-renamed-model-input",
        (Call("route", {"model": "mlp"}),),
        needs=("route",),
        check=check_renamed_input_refused,
        fails=True,
    ),
    Case("route-fork", (Call("route"),), ("route",), check_route_fork, event=FORK_EVENT),
    Case(
        "route-unknown-key",
        (Call("route", {"overrides": "train.epoch=2"}),),
        needs=("route",),
        check=check_refused_key,
        fails=True,
    ),
    Case("train", (Call("train"),), ("repro",), check_trained, repo="base"),
    Case(
        "train-unknown-stage",
        (Call("train", {"stages": "trian", "resume": "false"}),),
        needs=("repro",),
        check=check_bad_stage,
        fails=True,
    ),
    Case("export-reuses-training", (Call("export"),), ("repro",), check_reused_export, "trained"),
    Case(
        "experiment-then-pull-request",
        (
            # Only `evaluate` depends on this: the other stages come from the run-cache.
            Call("experiment", {"overrides": "evaluate.batch_size=128"}),
            Call(
                "pull-request",
                {
                    "branch": "{steps.experiment.branch}",
                    "title": "Evaluate in batches of 128",
                    "body-files": "{steps.experiment.summary-file}",
                },
            ),
        ),
        needs=("experiment", "pull-request"),
        check=check_retrain_pull_request,
        repo="trained",
    ),
    Case(
        "experiment-renamed-model-input",
        (Call("experiment", {"model": "cnn", "epochs": "1"}),),
        needs=("experiment",),
        check=check_renamed_input_refused,
        fails=True,
    ),
    Case(
        "experiment-bad-value",
        (Call("experiment", {"overrides": "train.epochs=-1"}),),
        needs=("experiment",),
        check=check_bad_value,
        fails=True,
    ),
    Case(
        "report-then-gate",
        # As reusable-pr.yml runs them: train (restored from the run-cache), report, gate.
        (Call("train"), Call("report", {"post": "false"}), Call("gate")),
        needs=("repro", "report", "gate"),
        check=check_report_then_gate_passes,
        repo="trained",
        params={"gate": {"min_accuracy": 0.1, "max_regression": None}},
    ),
    Case(
        "gate-below-threshold",
        (Call("train"), Call("gate")),
        needs=("repro", "gate"),
        check=check_gate_fails,
        repo="trained",
        params={"gate": {"min_accuracy": 0.999}},
        fails=True,
    ),
    Case(
        "tune-then-report",
        (Call("train"), Call("tune", {"repro": "false"}), Call("report", {"post": "false"})),
        needs=("repro", "tune", "report"),
        check=check_tune_then_report,
        repo="trained",
        params={
            "tune": {
                "trials": 2,
                "timeout_minutes": 5,
                "space": {"learning_rate": {"choices": [0.005, 0.01]}},
            }
        },
    ),
    Case(
        "deploy-then-monitor",
        (Call("train"), Call("deploy"), Call("monitor")),
        needs=("repro", "deploy", "monitor"),
        check=check_deploy_then_monitor,
        repo="trained",
        params={"serve": {"port": SERVE_PORT, "workers": 1}},
        cleanup=stop_deployment,
        github_before=merged_pull_request,
        github_after=deploy_commented_once,
    ),
    Case(
        # The scheduled monitor on a fresh GitHub-hosted runner: nothing to look at, no failure.
        "monitor-nothing-deployed",
        (Call("monitor"),),
        needs=("monitor",),
        check=check_nothing_deployed,
    ),
    Case(
        "monitor-named-state-dir-without-deployment",
        (Call("monitor", {"state-dir": ".deploy"}),),
        needs=("monitor",),
        check=check_named_state_without_deployment,
        fails=True,
    ),
    Case(
        "remediate-refuses-a-fork",
        (Call("remediate", {"opt-in": "true"}),),
        needs=("remediate",),
        check=check_remediation_refused("comes from the fork someone/models"),
        params=REMEDIATION_GATE,
        prepare=trained_as(FAILED_METRICS, head_repository="someone/models", labels=(LABEL,)),
    ),
    Case(
        "remediate-refuses-a-passed-gate",
        (Call("remediate", {"opt-in": "true"}),),
        needs=("remediate",),
        check=check_remediation_refused("the quality gate passed: nothing to remediate"),
        params=REMEDIATION_GATE,
        prepare=trained_as({"task": "classification", "accuracy": 0.999}),
    ),
    Case(
        "push-params",
        (Call("push-params", PUSH_INPUTS),),
        needs=("push-params",),
        check=check_params_pushed,
        prepare=pull_request_to_push({"train": {"learning_rate": TUNED_LEARNING_RATE}}),
        github_before=pull_request_seven,
        github_after=report_comment_names_the_push,
    ),
    Case(
        "push-params-refuses-more-than-train",
        (Call("push-params", PUSH_INPUTS),),
        needs=("push-params",),
        check=check_overreach_refused,
        fails=True,
        prepare=pull_request_to_push(
            {"train": {"learning_rate": TUNED_LEARNING_RATE}, "gate": {"min_accuracy": 0.1}}
        ),
        github_before=pull_request_seven,
        github_after=no_comment,
    ),
    Case(
        "pull-request-to-default-branch",
        (Call("pull-request", {"branch": "main", "title": "x"}),),
        needs=("pull-request",),
        check=check_default_branch_refused,
        fails=True,
    ),
]


# --- repositories ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def origin(tmp_path_factory) -> Path:
    """A bare origin holding the tiny pipeline, with a DVC remote (a directory) configured."""
    root = tmp_path_factory.mktemp("actions")
    seed, env = make_pipeline_repo(root / "seed", tiny_params())
    run(["dvc", "remote", "add", "-d", "store", str(root / "remote")], seed, env)
    run(["git", "commit", "-qam", "DVC remote"], seed, env)
    return clone(seed, root / "origin.git", "--bare")


@pytest.fixture(scope="module")
def trained(origin: Path) -> dict:
    """The train action run once on a clone (the `base` job): the DVC remote then holds the
    outputs and run-cache of the whole pipeline."""
    base = clone(origin, origin.parent / "base")
    (base_case,) = [case for case in CASES if case.repo == "base"]
    ran = run_job(base_case, base, origin.parent / "base-temp")
    return {"repo": base, "ran": ran, "remote": origin.parent / "remote"}


def clone(source: Path, path: Path, *options: str) -> Path:
    run(["git", "clone", "-q", *options, str(source), str(path)], path.parent, tool_env(path))
    return path


@dataclass
class Ran:
    results: list[ActionResult]
    github: FakeGitHub  # stopped, its state kept for the checks
    sha: str


def run_job(case: Case, repo: Path, temp: Path, event: dict | None = None) -> Ran:
    """The case's actions in order, like the steps of one job; stops at the first failure."""
    event = case.event if event is None else event
    temp.mkdir(parents=True, exist_ok=True)
    done: dict[str, ActionResult] = {}
    sha = run(["git", "rev-parse", "HEAD"], repo, tool_env(repo)).stdout.strip()
    with FakeGitHub(repository="octo/kit") as fake:
        if case.github_before:
            case.github_before(fake, sha)
        github = {"token": fake.token, "run_id": "1", "run_attempt": "1", "job": "harness"}
        github |= {"repository": fake.repository, "workspace": str(repo), "event": event}
        github |= {"sha": sha}
        runner = Runner(cwd=repo, env=tool_env(repo), temp=temp, github=github, event=event)
        # The runner sets these for every step; the token only reaches a step through `env:`.
        runner.env |= {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": fake.repository}
        runner.env |= {"GITHUB_SHA": sha} | runner_env(repo)
        runner.env.pop("GITHUB_TOKEN", None)
        for call in case.job:
            inputs = {key: fill(value, done) for key, value in call.inputs.items()}
            done[call.action] = run_action(call.action, inputs, runner)
            if done[call.action].failed:
                break
    return Ran(list(done.values()), fake, sha)


def merge_params(path: Path, sections: dict) -> None:
    params = yaml.safe_load(path.read_text())
    for section, values in sections.items():
        params.setdefault(section, {}).update(values)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def assert_documented_outputs(action: str, result: ActionResult) -> None:
    """Each output whose description lists its values (kit_files.output_values) took one."""
    if result.failed:
        return  # a failed step's outputs are whatever it wrote before it failed
    for output, value in result.outputs.items():
        values = output_values(action, output)
        assert values is None or value in values, f"{action}: {output}={value!r}, not in {values}"


def fill(value: str, done: dict[str, ActionResult]) -> str:
    """`{steps.<action>.<output>}` placeholders in a case's inputs."""
    if value.startswith("{steps."):
        action, output = value[len("{steps.") : -1].split(".", 1)
        return done[action].outputs[output]
    return value


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_action(case: Case, origin: Path, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    missing = [command for command in case.needs if command not in COMMANDS]
    if missing:
        pytest.skip(f"waits for `ml {' / '.join(missing)}`, not in this build yet")
    if case.unless and (reason := case.unless()):
        pytest.skip(reason)
    if case.repo == "base":
        trained = request.getfixturevalue("trained")
        ran, repo = trained["ran"], trained["repo"]
    else:
        # Own origin and DVC remote per case: pushes stay in the case.
        clone(origin, tmp_path / "origin.git", "--bare")
        repo = clone(tmp_path / "origin.git", tmp_path / "repo")
        remote = tmp_path / "remote"
        if case.repo == "trained":
            shutil.copytree(request.getfixturevalue("trained")["remote"], remote)
        modify = ["dvc", "remote", "modify", "--local", "store", "url", str(remote)]
        run(modify, repo, tool_env(repo))
        if case.params:
            merge_params(repo / "params.yaml", case.params)
        event = case.prepare(repo) if case.prepare else case.event
        ran = run_job(case, repo, tmp_path / "temp", event)
    results = ran.results
    try:
        assert [result.failed for result in results[:-1]] == [False] * (len(results) - 1), [
            result.log for result in results
        ]
        assert results[-1].failed == case.fails, results[-1].log
        for call, result in zip(case.job, results, strict=False):
            assert_documented_outputs(call.action, result)
        case.check(results, repo)
        if case.github_after:
            case.github_after(ran.github, ran.sha)
    finally:
        if case.cleanup:
            case.cleanup(repo)
