"""The base commit and files read from it through Git."""

from __future__ import annotations

import json

import pytest

from ml.errors import UserError
from ml.results import revisions
from tests.ml.conftest import GitRepo


def test_a_branch_keeps_its_name_a_hash_is_shortened(git_repo: GitRepo) -> None:
    sha = git_repo.commit({"a.txt": "1\n"})
    assert revisions.resolve_base("main") == revisions.BaseCommit(sha, "main")
    assert revisions.resolve_base(sha) == revisions.BaseCommit(sha, sha[:12])
    abbreviated = revisions.resolve_base(sha[:9])
    assert abbreviated is not None and abbreviated.label == sha[:12]


def test_no_base_outside_a_pull_request(git_repo: GitRepo) -> None:
    git_repo.commit({"a.txt": "1\n"})
    assert revisions.resolve_base(None) is None


def test_the_pr_base_comes_from_the_event(git_repo: GitRepo, tmp_path, monkeypatch) -> None:
    base = git_repo.commit({"a.txt": "1\n"})
    git_repo.commit({"a.txt": "2\n"})
    event = tmp_path / "event.json"
    pull = {"number": 4, "base": {"sha": base, "ref": "release"}, "head": {"sha": "f" * 40}}
    event.write_text(json.dumps({"pull_request": pull}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert revisions.resolve_base(None) == revisions.BaseCommit(base, "release")


def test_an_option_is_never_taken_for_a_ref(git_repo: GitRepo) -> None:
    git_repo.commit({"a.txt": "1\n"})
    assert revisions.commit_sha("--all") is None
    with pytest.raises(UserError, match="not a commit"):
        revisions.resolve_base("--output=/tmp/x")


def test_read_at_a_commit(git_repo: GitRepo) -> None:
    first = git_repo.commit({"metrics/evaluate.json": '{"accuracy": 0.5}'})
    git_repo.commit({"metrics/evaluate.json": '{"accuracy": 0.9}'})
    assert revisions.read_at(first, "metrics/evaluate.json") == '{"accuracy": 0.5}'
    assert revisions.read_at(first, "metrics/missing.json") is None
