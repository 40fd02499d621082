"""The record of one deploy: its Markdown (job summary and pull-request comment), step outputs
and deployment.json. (The comment on the merged pull request, through the fake GitHub API, is
checked in test_flow.py.)"""

from __future__ import annotations

import json

import pytest

from ml.deploy.report import MARKER, DeployReport


def rolled_back() -> DeployReport:
    report = DeployReport("digits", "local", version="2", champion="1")
    report.step("register", True, "version 2 is the challenger")
    report.step("smoke test", False, "v1 predict answered 500: a|b\nTraceback")
    report.step("promote", None, "skipped")
    report.status = "rolled back"
    return report


def test_markdown_has_one_row_per_step_whatever_the_details_hold():
    text = rolled_back().markdown()
    assert text.startswith("## ❌ Deploy of digits version 2 to local: rolled back\n")
    assert "Champion: version 1\n" in text  # no URL: none was served
    assert "| smoke test | ❌ | v1 predict answered 500: a\\|b Traceback |" in text
    assert "| promote | ⏸️ | skipped |" in text
    assert text.endswith(f"\n\n{MARKER}\n")


def test_a_first_deploy_that_promoted_and_one_that_only_rendered():
    promoted = DeployReport("digits", "local", status="promoted", version="1", champion="1")
    promoted.url = "http://127.0.0.1:8080"
    assert promoted.markdown().startswith("## ✅ Deploy of digits version 1 to local: promoted")
    assert "Champion: version 1, serving at http://127.0.0.1:8080" in promoted.markdown()
    rendered = DeployReport("digits", "kserve", status="rendered")
    assert rendered.markdown().startswith("## ⏸️ Deploy of digits version ? to kserve: rendered")
    assert "Champion: version none\n" in rendered.markdown()


@pytest.fixture
def actions_files(tmp_path, monkeypatch):
    """The job summary and step outputs files of an Actions step without GitHub credentials."""
    for name in ("GITHUB_TOKEN", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_SHA", "c0ffee" * 6 + "abcd")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))
    return tmp_path


def test_publish_writes_the_summary_the_outputs_and_the_record(actions_files):
    report = rolled_back()
    report.publish(actions_files / "state")
    assert (actions_files / "summary.md").read_text() == report.markdown()
    outputs = (actions_files / "outputs").read_text().splitlines()
    assert [line.split("<<")[0] for line in outputs if "<<" in line] == [
        "status",
        "version",
        "champion",
        "url",
    ]
    assert outputs[1] == "rolled back"
    record = json.loads((actions_files / "state/deployment.json").read_text())
    assert record["status"] == "rolled back" and record["champion"] == "1"
    assert [(s["name"], s["ok"]) for s in record["steps"]] == [
        ("register", True),
        ("smoke test", False),
        ("promote", None),
    ]


def test_publish_in_a_workflow_without_a_token_says_why_nothing_was_commented(
    actions_files, monkeypatch, caplog
):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/models")
    with caplog.at_level("WARNING", logger="ml.deploy"):
        rolled_back().publish(actions_files / "state")
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "Not commenting on the pull request of c0ffeec0ffee" in warning
    assert "GITHUB_TOKEN" in warning and "pull-requests: write" in warning
