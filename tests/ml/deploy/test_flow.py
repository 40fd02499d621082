"""`ml deploy --target local` end to end: a real MLflow registry, the real service under its
supervisor, the real smoke test. A good version becomes champion; a version that fails its
smoke test is rolled back and the previous version serves again. The GitHub API is the only
fake (tests/fake_github.py, a local HTTP server reached through GITHUB_API_URL)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.deployment import sha12
from tests.fake_github import FakeGitHub
from tests.helpers import read_outputs

pytestmark = pytest.mark.e2e


def served_version(deployment) -> str:
    return httpx.get(f"{deployment.url}/v2/models/digits").json()["versions"][0]


def aliases(deployment) -> dict[str, str]:
    model = deployment.registry().get_registered_model("digits")
    return {alias: str(version) for alias, version in model.aliases.items()}


def test_first_deploy_registers_and_promotes(deployment):
    assert served_version(deployment) == sha12(deployment.good)
    assert aliases(deployment)["champion"] == "1"
    version = deployment.registry().get_model_version("digits", "1")
    assert version.tags["deploy.status"] == "champion"
    assert version.tags["sha256"].startswith(sha12(deployment.good))
    record = json.loads((deployment.state / "deployment.json").read_text())
    assert record["status"] == "promoted" and record["champion"] == "1"
    assert [step["name"] for step in record["steps"]] == [
        "register",
        "deploy",
        "smoke test",
        "promote",
    ]
    # The deploy did not return before the service answered: ready, and serving the page.
    assert httpx.get(f"{deployment.url}/").status_code == 200


def test_failing_smoke_test_rolls_back_to_the_previous_version(deployment, tmp_path):
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    merge_sha = "c0ffee" * 6 + "abcd"
    with FakeGitHub() as github:
        github.add_pull(7, merge_commit_sha=merge_sha)
        env = github.environment(sha=merge_sha)
        env |= {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
        result = deployment.deploy(deployment.bad, check=False, env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "was not promoted (rolled back); champion: version 1" in result.stderr
    # The bad model predicts one class for every digit: the smoke test catches it.
    assert "below deploy.smoke.min_accuracy 0.5" in result.stderr
    new_version = max(int(v.version) for v in deployment.registry().search_model_versions())
    assert aliases(deployment) == {"champion": "1", "challenger": "1"}
    status = deployment.registry().get_model_version("digits", str(new_version)).tags
    assert status["deploy.status"] == "rolled back"
    assert served_version(deployment) == sha12(deployment.good)
    record = json.loads((deployment.state / "deployment.json").read_text())
    assert record["status"] == "rolled back"
    steps = [(step["name"], step["ok"]) for step in record["steps"]]
    assert steps == [
        ("register", True),
        ("deploy", True),
        ("smoke test", False),
        ("roll back", True),
        ("smoke test", True),
    ]
    # Every step is in the job summary and on the merged pull request.
    markdown = summary.read_text()
    assert f"Deploy of digits version {new_version} to local: rolled back" in markdown
    assert "| smoke test | ❌ |" in markdown and "| roll back | ✅ |" in markdown
    assert [comment["body"] for comment in github.comments[7]] == [markdown.strip() + "\n"]
    assert read_outputs(outputs)["status"] == "rolled back"


def test_a_model_that_cannot_load_registers_nothing(deployment, tmp_path):
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not onnx")
    before = len(deployment.registry().search_model_versions())
    result = deployment.deploy(broken, check=False)
    assert result.returncode == 1
    assert "onnxruntime cannot load it" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(deployment.registry().search_model_versions()) == before
    assert served_version(deployment) == sha12(deployment.good)
