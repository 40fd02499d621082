"""The example consumer (examples/consumer) is a working adoption of the kit: its params pass the
kit's schema, its pipeline is the kit's, and DVC accepts it. Its workflows go through the same
lint and contract tests as the kit's own (test_lint.py, test_contract.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ml.config import load_params
from ml.route import count_rows, decide
from tests.conftest import tool_env
from tests.helpers import run
from tests.paths import REPO_ROOT
from tests.workflows.kit_files import CONSUMER, kit_workflows, workflows


def stages(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["stages"]


def test_params_pass_the_kit_schema_and_route_to_a_github_hosted_runner(tmp_path: Path) -> None:
    params = load_params(CONSUMER / "params.yaml")
    decided = decide(params, count_rows(params.prepare, tmp_path), trusted=True)
    assert decided.runs_on == ["ubuntu-latest"] and not decided.self_hosted


def test_pipeline_runs_the_kits_commands() -> None:
    kit, consumer = stages(REPO_ROOT / "dvc.yaml"), stages(CONSUMER / "dvc.yaml")
    assert list(consumer) == list(kit)
    for name, stage in consumer.items():
        assert stage["cmd"] == kit[name]["cmd"], name
        assert stage.get("params") == kit[name].get("params"), name
        assert not [dep for dep in stage.get("deps", []) if dep.startswith("ml/")], name


def test_workflows_call_each_reusable_workflow_of_the_kit() -> None:
    called = {
        job["uses"].split("/")[-1].split("@")[0]
        for file in workflows()
        if file.path.is_relative_to(CONSUMER)
        for job in file.jobs.values()
    }
    assert called == {file.path.name for file in kit_workflows() if file.reusable}


@pytest.mark.e2e
def test_dvc_accepts_the_pipeline(tmp_path: Path) -> None:
    repo = tmp_path / "consumer"
    shutil.copytree(CONSUMER, repo)
    env = tool_env(tmp_path)
    run(["git", "init", "-q"], repo, env)
    dag = run(["dvc", "dag", "--dot"], repo, env).stdout
    for edge in ("prepare", "train"), ("train", "export"), ("export", "evaluate"):
        assert '"{}" -> "{}"'.format(*edge) in dag, dag
