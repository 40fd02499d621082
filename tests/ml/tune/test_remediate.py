"""`ml remediate` as a workflow step runs it: in a real Git + DVC repository of the kit's
pipeline, after a failed gate, it tunes two trials, writes the winner into params.yaml,
re-trains the whole pipeline with it and judges it by the gate; `ml report` then shows what was
tried and what won. Where it must not run, it changes nothing and says why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ml import dotted
from ml.config import load_params, section_hash
from ml.tune.remediation import LABEL
from tests.conftest import make_pipeline_repo, tiny_params
from tests.helpers import read_outputs, run, run_ml
from tests.image_folders import write_image_folder
from tests.ml.tune.test_remediation import pull_request_payload

FAILED_RUN = {"task": "classification", "accuracy": 0.42, "f1_macro": 0.4}


SEARCH = {
    "trials": 2,
    "timeout_minutes": 10,
    "candidates": [{"learning_rate": 0.01}],
    "space": {"cnn.dense_units": {"choices": [32]}},
}


def remediation_repo(
    tmp_path: Path, evaluate: dict, tune: dict = SEARCH, images: bool = False, **payload_options
) -> tuple[Path, dict]:
    """The pipeline repository after a pull request's training: `evaluate` as its test metrics,
    the event of a pull request at its head; the environment of a step. With `images`, its
    data is a folder of images in the repository, decoded at 16x16."""
    params = tiny_params()
    params["gate"] = {"min_accuracy": 0.995}  # out of the tiny model's reach
    params["tune"] = tune
    if images:
        write_image_folder(tmp_path / "repo" / "data" / "raw" / "shapes", per_class=20)
        params["prepare"] = {
            "source": {"images": "data/raw/shapes"},
            "image": {"size": [16, 16], "color_mode": "rgb"},
        }
    repo, env = make_pipeline_repo(tmp_path / "repo", params)
    head = run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()
    (repo / "metrics").mkdir(exist_ok=True)
    (repo / "metrics" / "evaluate.json").write_text(json.dumps(evaluate))
    event = tmp_path / "event.json"
    payload = pull_request_payload(head_sha=head, base_sha=head, **payload_options)
    event.write_text(json.dumps(payload))
    outputs = tmp_path / "github_output"
    outputs.touch()
    env = env | {"GITHUB_EVENT_PATH": str(event), "GITHUB_OUTPUT": str(outputs)}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return repo, env


@pytest.mark.e2e
def test_a_failed_gate_is_tuned_retrained_judged_and_reported(tmp_path) -> None:
    repo, env = remediation_repo(tmp_path, FAILED_RUN, labels=(LABEL,))
    before = load_params(repo / "params.yaml")

    result = run_ml("remediate", cwd=repo, env=env, timeout=900)

    assert result.returncode == 0, result.stderr[-4000:]
    outputs = read_outputs(Path(env["GITHUB_OUTPUT"]))
    assert outputs["remediated"] == "true" and outputs["changed"] == "true"
    tune = json.loads((repo / "metrics" / "tune.json").read_text())
    assert len(tune["trials"]) == 2
    assert tune["trials"][-1]["state"] == "complete"
    record = json.loads((repo / "metrics" / "remediation.json").read_text())
    assert record["gate_before"]["passed"] is False
    assert "accuracy 0.4200 < gate.min_accuracy 0.995" in record["gate_before"]["reason"]
    assert record["trials"] == 2 and record["candidates_only"] is False
    assert record["best"] == tune["best"]
    # The winner is in params.yaml, and nothing but `train` changed.
    after = load_params(repo / "params.yaml")
    assert record["train_hash"] == section_hash(after.train)
    best = tune["best"]["overrides"]
    old_train = before.train.model_dump(mode="json")
    changed = {key for key, value in best.items() if dotted.get(old_train, key) != value}
    assert changed and {change["key"] for change in record["changes"]} == {
        f"train.{key}" for key in changed
    }
    for change in record["changes"]:
        key = change["key"].removeprefix("train.")
        assert (change["before"], change["after"]) == (dotted.get(old_train, key), best[key])
    assert after.model_dump(exclude={"train"}) == before.model_dump(exclude={"train"})
    # The whole pipeline ran again with the winner: fresh test metrics, judged by the gate.
    evaluate = json.loads((repo / "metrics" / "evaluate.json").read_text())
    assert evaluate["accuracy"] != FAILED_RUN["accuracy"] and set(evaluate) > set(FAILED_RUN)
    assert (repo / "models" / "model.onnx").is_file()
    assert outputs["passed"] == str(evaluate["accuracy"] >= 0.995).lower()
    assert record["gate_after"]["passed"] is (outputs["passed"] == "true")

    report = run_ml("report", "--no-post", "--out=reports/report.md", cwd=repo, env=env)

    assert report.returncode == 0, report.stderr[-4000:]
    text = (repo / "reports" / "report.md").read_text()
    assert "### Remediation: the gate failed, the kit tuned" in text
    assert "**Tried:** 2 trials (budget: `tune.trials` 2, `tune.timeout_minutes` 10)" in text
    assert f"**Won:** trial {tune['best']['number']}" in text
    assert "### Architecture search: 2 trials" in text
    for change in record["changes"]:
        assert f"| `{change['key']}` | `{json.dumps(change['before'])}` |" in text


@pytest.mark.e2e
def test_a_failed_gate_on_an_image_folder_is_tuned_and_retrained(tmp_path) -> None:
    repo, env = remediation_repo(tmp_path, FAILED_RUN, images=True, labels=(LABEL,))

    result = run_ml("remediate", cwd=repo, env=env, timeout=900)

    assert result.returncode == 0, result.stderr[-4000:]
    outputs = read_outputs(Path(env["GITHUB_OUTPUT"]))
    assert outputs["remediated"] == "true" and outputs["changed"] == "true"
    tune = json.loads((repo / "metrics" / "tune.json").read_text())
    assert [row["state"] for row in tune["trials"]] == ["complete", "complete"]
    record = json.loads((repo / "metrics" / "remediation.json").read_text())
    assert record["retrained"] is True and record["best"] == tune["best"]
    # The pipeline re-ran on the image folder: test metrics of its three classes.
    evaluate = json.loads((repo / "metrics" / "evaluate.json").read_text())
    assert set(evaluate["per_class"]) == {"circle", "cross", "square"}
    assert (repo / "models" / "model.onnx").is_file()


@pytest.mark.e2e
def test_when_nothing_beats_the_pull_request_it_says_so_and_the_gate_stays_failed(
    tmp_path,
) -> None:
    # The one candidate is the pull request's own setting: the search cannot find better.
    own = {"learning_rate": tiny_params()["train"]["learning_rate"]}
    tune = {"trials": 1, "timeout_minutes": 10, "candidates": [own]}
    repo, env = remediation_repo(tmp_path, FAILED_RUN, tune=tune, labels=(LABEL,))
    params_before = (repo / "params.yaml").read_text()

    result = run_ml("remediate", cwd=repo, env=env, timeout=900)

    assert result.returncode == 0, result.stderr[-4000:]
    outputs = read_outputs(Path(env["GITHUB_OUTPUT"]))
    assert outputs == {
        "remediated": "true",
        "reason": "accuracy 0.4200 < gate.min_accuracy 0.995",
        "passed": "false",
        "changed": "false",
    }
    record = json.loads((repo / "metrics" / "remediation.json").read_text())
    assert record["changes"] == [] and record["retrained"] is False
    assert record["trials"] == 1 and record["candidates_only"] is True
    assert record["gate_after"] == record["gate_before"]
    assert record["best"]["overrides"] == own
    assert yaml.safe_load((repo / "params.yaml").read_text()) == yaml.safe_load(params_before)
    # Nothing re-trained: the pull request's own test metrics stand, no model was built.
    assert json.loads((repo / "metrics" / "evaluate.json").read_text()) == FAILED_RUN
    assert not (repo / "models" / "model.onnx").exists()

    report = run_ml("report", "--no-post", "--out=reports/report.md", cwd=repo, env=env)

    assert report.returncode == 0, report.stderr[-4000:]
    text = (repo / "reports" / "report.md").read_text()
    assert "the kit tuned — nothing beat this pull request's settings" in text
    assert "**Tried:** 1 candidate (budget: `tune.trials` 1, `tune.timeout_minutes` 10)" in text
    assert "with this pull request's own settings" in text
    assert "- **Gate:** ❌ still fails · accuracy 0.4200 < gate.min_accuracy 0.995" in text
    assert "### Candidates: 1 trained, the best kept" in text


@pytest.mark.parametrize(
    ("evaluate", "payload", "reason"),
    [
        (
            {"task": "classification", "accuracy": 0.999},
            {"labels": (LABEL,)},
            "the quality gate passed: nothing to remediate",
        ),
        (FAILED_RUN, {"labels": ("bug",)}, "not opted in"),
        (FAILED_RUN, {"labels": (LABEL,), "head_repository": "someone/models"}, "from the fork"),
        (FAILED_RUN, {"labels": (LABEL,), "head_ref": "main"}, "is the default branch"),
    ],
    ids=["gate-passed", "not-opted-in", "fork", "default-branch"],
)
def test_where_it_must_not_run_nothing_changes(tmp_path, evaluate, payload, reason) -> None:
    repo, env = remediation_repo(tmp_path, evaluate, **payload)
    params_before = (repo / "params.yaml").read_text()

    result = run_ml("remediate", cwd=repo, env=env)

    assert result.returncode == 0, result.stderr[-4000:]
    outputs = read_outputs(Path(env["GITHUB_OUTPUT"]))
    assert outputs["remediated"] == "false" and outputs["changed"] == "false"
    assert reason in outputs["reason"]
    assert (repo / "params.yaml").read_text() == params_before
    assert not (repo / "metrics" / "remediation.json").exists()
    assert not (repo / "metrics" / "tune.json").exists()
    assert not (repo / "data" / "prepared").exists()  # nothing ran, not even prepare


def test_a_bad_label_is_refused_before_anything_runs(tmp_path) -> None:
    repo, env = remediation_repo(tmp_path, {"task": "classification", "accuracy": 0.999})
    result = run_ml("remediate", "--opt-in", "--label=", cwd=repo, env=env)
    assert result.returncode == 1
    assert "--label '' is not a label name" in result.stderr
    assert yaml.safe_load((repo / "params.yaml").read_text())["gate"] == {"min_accuracy": 0.995}
