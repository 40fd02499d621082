"""The sticky PR comment, against the fake GitHub REST API (tests/fake_github.py) reached through
GITHUB_API_URL."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from ml.errors import UserError
from ml.report import command as report
from ml.report import comment
from tests.fake_github import FakeGitHub

MARKER = "runwright-report"
PR = 7


@pytest.fixture
def github(fake_github: FakeGitHub) -> FakeGitHub:
    """The fake GitHub with pull request #7 open."""
    fake_github.add_pull(PR)
    return fake_github


def body(text: str) -> str:
    return f"<!-- {MARKER} -->\n## report\n{text}\n"


def test_first_post_creates_one_comment(github: FakeGitHub) -> None:
    assert comment.post(body("v1"), PR, MARKER) == "created"
    assert [c["body"] for c in github.comments[PR]] == [body("v1")]
    assert github.count("POST") == 1


def test_second_post_edits_the_same_comment(github: FakeGitHub) -> None:
    github.add_comment(PR, "LGTM")
    comment.post(body("v1"), PR, MARKER)
    assert comment.post(body("v2"), PR, MARKER) == "updated"
    ours = [c for c in github.comments[PR] if MARKER in c["body"]]
    assert len(ours) == 1 and ours[0]["body"] == body("v2")
    assert len(github.comments[PR]) == 2  # the human's comment is untouched


def test_finds_the_old_comment_on_the_second_page(github: FakeGitHub) -> None:
    for index in range(130):  # 100 per page: the report sits on page 2
        github.add_comment(PR, body("old") if index == 117 else f"comment {index}")
    assert comment.post(body("new"), PR, MARKER) == "updated"
    assert github.comments[PR][117]["body"] == body("new")
    assert len(github.comments[PR]) == 130
    pages = [request.query for request in github.requests if request.method == "GET"]
    assert len(pages) == 2 and pages[1]["page"] == "2"
    assert github.count("POST") == 0


def test_a_marker_for_another_report_is_left_alone(github: FakeGitHub) -> None:
    github.add_comment(PR, "<!-- runwright-report-gpu -->\nother")
    assert comment.post(body("x"), PR, MARKER) == "created"
    assert len(github.comments[PR]) == 2


def test_502_then_200_is_retried(github: FakeGitHub) -> None:
    github.fail_next("GET", 502, "Bad Gateway")
    github.fail_next("POST", 502, "Bad Gateway")
    assert comment.post(body("x"), PR, MARKER) == "created"
    assert github.count("GET") == 2 and github.count("POST") == 2
    assert len(github.comments[PR]) == 1


def test_rate_limit_waits_for_retry_after(github: FakeGitHub) -> None:
    github.add_comment(PR, body("old"))
    github.fail_next(
        "PATCH", 429, "You have exceeded a secondary rate limit", headers={"Retry-After": "1"}
    )
    started = time.monotonic()
    assert comment.post(body("new"), PR, MARKER) == "updated"
    assert time.monotonic() - started >= 1.0
    assert github.count("PATCH") == 2


def test_403_is_reported_not_raised(github: FakeGitHub, monkeypatch) -> None:
    github.add_token("fork-token", "read")  # a fork's pull request gets a read-only token
    monkeypatch.setenv("GITHUB_TOKEN", "fork-token")
    assert comment.post(body("x"), PR, MARKER) == "forbidden"
    assert github.count("POST") == 1  # a permission error is not retried
    assert PR not in github.comments


def test_404_names_the_repository_and_pr(github: FakeGitHub, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/missing")
    with pytest.raises(UserError, match=r"answered 404 \(Not Found\) for octo/missing PR #7"):
        comment.post(body("x"), PR, MARKER)


def test_bad_token_is_a_clear_error(github: FakeGitHub, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    with pytest.raises(UserError, match="401"):
        comment.post(body("x"), PR, MARKER)


def test_missing_token(monkeypatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/models")
    with pytest.raises(UserError, match="GITHUB_TOKEN is not set"):
        comment.post(body("x"), PR, MARKER)


def test_publish_on_a_fork_writes_the_summary_and_says_why(
    github: FakeGitHub, tmp_path: Path, monkeypatch
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event_file(tmp_path)))
    github.add_token("fork-token", "read")
    monkeypatch.setenv("GITHUB_TOKEN", "fork-token")
    report.publish(body("x"), tmp_path / "r.md", True, report.Poster.api, None, MARKER)
    text = summary.read_text()
    assert text.startswith(body("x"))
    assert "read-only token" in text
    assert PR not in github.comments


def test_oversized_body_is_cut_but_stays_sticky() -> None:
    long = body("x" * 70_000)
    cut = comment.fit_comment(long, MARKER)
    assert len(cut) <= comment.COMMENT_LIMIT_CHARS
    assert cut.startswith(f"<!-- {MARKER} -->")
    assert "report cut to fit" in cut


def test_cml_poster_hands_over_the_file(tmp_path: Path, monkeypatch) -> None:
    # `cml` cannot be installed here (its npm package is gone); a recording stand-in plays it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "cml-args.txt"
    fake_cml = bin_dir / "cml"
    fake_cml.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\necho posted\n')
    fake_cml.chmod(fake_cml.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    report_file = tmp_path / "report.md"
    report_file.write_text(body("x"))
    report.publish(body("x"), report_file, True, report.Poster.cml, None, MARKER)
    args = record.read_text().splitlines()
    assert args == ["comment", "update", f"--watermark-title={MARKER}", str(report_file)]


def test_cml_poster_without_cml(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="no `cml` executable on PATH"):
        comment.post_with_cml(tmp_path / "r.md", MARKER)


def event_file(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_text(
        '{"pull_request": {"number": 7, "base": {"sha": "abc", "ref": "main"}, '
        '"head": {"sha": "def"}}}'
    )
    return path
