"""The one GitHub client (ml/github/client.py) against the fake GitHub API (tests/fake_github.py):
its retry policy, GITHUB_API_URL, its errors, and the calls deploy and monitor make."""

from __future__ import annotations

import logging
import time

import pytest

from ml.errors import UserError
from ml.github import client as github_client
from tests.fake_github import FakeGitHub

LABEL = "model-drift"


def open_issues(fake: FakeGitHub) -> list[dict]:
    return [issue for issue in fake.issues.values() if issue["state"] == "open"]


def test_a_502_is_retried_until_github_answers(fake_github: FakeGitHub) -> None:
    fake_github.fail_next("GET", 502, "Bad Gateway")
    fake_github.fail_next("POST", 502, "Bad Gateway")
    assert github_client.upsert_issue("drift", "Drift", "text", LABEL) == (1, "opened")
    assert fake_github.count("GET") == 2 and fake_github.count("POST") == 2
    assert len(open_issues(fake_github)) == 1


def test_a_404_is_not_retried(fake_github: FakeGitHub, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/missing")
    with pytest.raises(UserError, match=r"answered 404 \(Not Found\) updating the"):
        github_client.upsert_issue("drift", "Drift", "text", LABEL)
    assert fake_github.count("GET") == 1


def test_retries_end_with_a_clear_error(fake_github: FakeGitHub, monkeypatch) -> None:
    monkeypatch.setattr(github_client, "BACKOFF_SECONDS", 0)  # the policy, without the waits
    for _ in range(github_client.RETRIES + 1):
        fake_github.fail_next("GET", 503, "Service Unavailable")
    with pytest.raises(UserError, match=r"kept failing after 4 retries updating the"):
        github_client.upsert_issue("drift", "Drift", "text", LABEL)
    assert fake_github.count("GET") == github_client.RETRIES + 1


def test_a_secondary_rate_limit_waits_for_retry_after(fake_github: FakeGitHub) -> None:
    message = "You have exceeded a secondary rate limit. Please wait a few minutes."
    fake_github.fail_next("GET", 403, message, headers={"Retry-After": "1"})
    started = time.monotonic()
    github_client.upsert_issue("drift", "Drift", "text", LABEL)
    assert time.monotonic() - started >= 1.0
    assert fake_github.count("GET") == 2


def test_a_plain_403_is_refused_at_once(fake_github: FakeGitHub, monkeypatch) -> None:
    fake_github.add_token("fork-token", "read")
    monkeypatch.setenv("GITHUB_TOKEN", "fork-token")
    with pytest.raises(UserError, match=r"answered 403 \(Resource not accessible by integ"):
        github_client.upsert_issue("drift", "Drift", "text", LABEL)
    assert fake_github.count("POST") == 1
    assert fake_github.issues == {}


def test_a_bad_token_is_a_clear_error(fake_github: FakeGitHub, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    with pytest.raises(UserError, match=r"at http://127\.0\.0\.1:\d+ answered 401 \(Bad cred"):
        github_client.upsert_issue("drift", "Drift", "text", LABEL)
    assert fake_github.count("GET") == 1


def test_a_missing_token_is_refused_before_any_request(fake_github, monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(UserError, match=r"GITHUB_TOKEN is not set: give the step the job's"):
        github_client.client()
    assert not github_client.configured()
    assert fake_github.requests == []


def test_github_api_url_is_honoured(fake_github: FakeGitHub, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url + "/")
    github_client.upsert_issue("drift", "Drift", "text", LABEL)
    assert fake_github.paths("GET") == [f"/repos/{fake_github.repository}/issues"]
    monkeypatch.delenv("GITHUB_API_URL")
    assert github_client.connection_options()["base_url"] == "https://api.github.com"


def test_an_unreachable_api_is_named(monkeypatch, closed_port: int) -> None:
    monkeypatch.setattr(github_client, "BACKOFF_SECONDS", 0)
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/models")
    monkeypatch.setenv("GITHUB_TOKEN", "test-token")
    with pytest.raises(UserError, match=rf"GitHub API at http://127.0.0.1:{closed_port} "):
        github_client.upsert_issue("drift", "Drift", "text", LABEL)


def test_the_marked_issue_is_updated_not_repeated(fake_github: FakeGitHub) -> None:
    fake_github.issues[1] = {"title": "Other", "body": "x", "labels": [], "state": "open"}
    first = github_client.upsert_issue("drift digits", "Drift: 3 columns", "three", LABEL)
    second = github_client.upsert_issue("drift digits", "Drift: 5 columns", "five", LABEL)
    assert (first, second) == ((2, "opened"), (2, "updated"))
    issue = fake_github.issues[2]
    assert issue["title"] == "Drift: 5 columns"
    assert issue["body"] == "five\n\n<!-- drift digits -->\n"
    assert issue["labels"] == [{"name": LABEL}]


def test_comments_only_on_the_merged_pull_request_of_a_commit(fake_github: FakeGitHub) -> None:
    merged = "ab" * 20
    fake_github.add_pull(7, merge_commit_sha=merged)
    fake_github.add_pull(8, head="other")
    assert github_client.comment_on_pulls_of(merged, "deployed") == [7]
    assert [c["body"] for c in fake_github.comments[7]] == ["deployed"]
    assert 8 not in fake_github.comments
    with pytest.raises(UserError, match="answered 422 \\(No commit found for SHA: cdcd"):
        github_client.comment_on_pulls_of("cd" * 20, "deployed")


def test_a_dispatch_with_declared_inputs_is_accepted(fake_github: FakeGitHub) -> None:
    fake_github.declare_workflow("retrain.yml", {"epochs": {"required": False}})
    assert github_client.dispatch_workflow("retrain.yml", "main", {"epochs": "3"})
    assert github_client.dispatch_workflow("retrain.yml", "main", {})
    assert fake_github.dispatches == [
        {"workflow": "retrain.yml", "ref": "main", "inputs": {"epochs": "3"}},
        {"workflow": "retrain.yml", "ref": "main", "inputs": {}},
    ]


def test_a_refused_dispatch_says_why(fake_github: FakeGitHub, caplog) -> None:
    fake_github.declare_workflow("retrain.yml", {"epochs": {"required": False}})
    with caplog.at_level(logging.WARNING, logger="ml.github.client"):
        assert not github_client.dispatch_workflow("retrain.yml", "main", {"reason": "drift"})
        assert not github_client.dispatch_workflow("retrain.yml", "no-such-branch", {})
    assert "Unexpected inputs provided: ['reason']" in caplog.text
    assert "No ref found for: no-such-branch" in caplog.text
    assert fake_github.dispatches == []
    with pytest.raises(UserError, match=r"answered 404 \(Not Found\) dispatching absent.yml"):
        github_client.dispatch_workflow("absent.yml", "main", {})
