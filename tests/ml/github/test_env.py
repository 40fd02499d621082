"""The GitHub Actions context read from the standard environment variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.errors import UserError
from ml.github import env as github_env
from tests.helpers import read_outputs


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_EVENT_PATH", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_API_URL"):
        monkeypatch.delenv(name, raising=False)


def write_event(tmp_path: Path, payload: object, monkeypatch) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload) if not isinstance(payload, str) else payload)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))


def test_pull_request_from_the_event(tmp_path: Path, monkeypatch) -> None:
    write_event(
        tmp_path,
        {
            "pull_request": {
                "number": 5,
                "base": {"sha": "a" * 40, "ref": "main"},
                "head": {"sha": "b" * 40},
            }
        },
        monkeypatch,
    )
    pull = github_env.pull_request()
    assert pull is not None
    assert (pull.number, pull.base_sha, pull.base_ref, pull.head_sha) == (
        5,
        "a" * 40,
        "main",
        "b" * 40,
    )


def test_no_event_or_a_push_event_is_no_pull_request(tmp_path: Path, monkeypatch) -> None:
    assert github_env.pull_request() is None
    write_event(tmp_path, {"ref": "refs/heads/main", "before": "0" * 40}, monkeypatch)
    assert github_env.pull_request() is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "cannot read the event"),
        ("[1, 2]", "not a JSON object"),
        ({"pull_request": {"number": 1, "head": {"sha": "x"}}}, "lacks 'base'"),
    ],
)
def test_broken_event_payloads(tmp_path: Path, monkeypatch, payload, message) -> None:
    write_event(tmp_path, payload, monkeypatch)
    with pytest.raises(UserError, match=message):
        github_env.pull_request()


def test_api_url_defaults_and_follows_the_environment(monkeypatch) -> None:
    assert github_env.api_url() == "https://api.github.com"
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example/api/v3/")
    assert github_env.api_url() == "https://ghe.example/api/v3"


@pytest.mark.parametrize("name", ["", "just-a-name", "a/b/c", "/b"])
def test_repository_must_be_owner_slash_name(monkeypatch, name: str) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", name)
    with pytest.raises(UserError, match="GITHUB_REPOSITORY must be 'owner/name'"):
        github_env.repository_name()


def test_outputs_cannot_be_injected_through_a_value(tmp_path: Path, monkeypatch) -> None:
    outputs = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    hostile = "line one\npassed=true\nEOF"
    assert github_env.write_outputs({"passed": "false", "reason": hostile})
    assert read_outputs(outputs) == {"passed": "false", "reason": hostile}


def test_outputs_and_summary_are_skipped_outside_actions() -> None:
    assert github_env.write_outputs({"passed": "true"}) is False
    assert github_env.append_step_summary("# hi") is False


def test_step_summary_appends(tmp_path: Path, monkeypatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    github_env.append_step_summary("# report")
    assert summary.read_text() == "earlier step\n# report\n"
