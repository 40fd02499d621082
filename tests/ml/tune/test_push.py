"""`ml push-params`: the winning params.yaml committed and pushed, for real, to a pull request's
branch in a local bare repository; the report comment updated on the fake GitHub; and every
refusal leaving the branch and the checkout as they were."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from ml.errors import UserError
from ml.report.markdown import MARKER
from ml.tune import push
from ml.tune.remediation import COMMIT_SUBJECT
from tests.conftest import tiny_params
from tests.helpers import read_outputs
from tests.ml.tune.test_remediation import pull_request_payload

REPORT = (
    f"<!-- {MARKER} -->\n## ❌ Failure\n\n### Remediation: tried\n\n{push.FOOTER}\n</details>\n"
)


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


class Setup:
    """A bare `origin` with main and the pull request's branch `feature`, the pull request's
    checkout at its head, a tuned params.yaml, the event, and the report."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch):
        self.root = root
        self.bare = root / "origin.git"
        self.checkout = root / "pull-request"
        work = root / "work"
        work.mkdir()
        self.params = tiny_params()
        (work / "params.yaml").write_text(yaml.safe_dump(self.params, sort_keys=False))
        git(work, "init", "-q", "-b", "main")
        git(work, "-c", "user.name=dev", "-c", "user.email=dev@localhost", "add", "-A")
        git(work, "-c", "user.name=dev", "-c", "user.email=dev@localhost", "commit", "-qm", "a")
        git(work, "checkout", "-q", "-b", "feature")
        (work / "NOTE.md").write_text("A change.\n")
        git(work, "add", "-A")
        git(work, "-c", "user.name=dev", "-c", "user.email=dev@localhost", "commit", "-qm", "b")
        git(root, "clone", "-q", "--bare", str(work), str(self.bare))
        self.work = work
        self.main = git(self.bare, "rev-parse", "main")
        self.head = git(self.bare, "rev-parse", "feature")
        git(root, "clone", "-q", str(self.bare), str(self.checkout))
        git(self.checkout, "checkout", "-q", "--detach", self.head)
        tuned = json.loads(json.dumps(self.params))
        tuned["train"]["learning_rate"] = 0.01
        self.tuned = root / "tuned" / "params.yaml"
        self.tuned.parent.mkdir()
        self.tuned.write_text(yaml.safe_dump(tuned, sort_keys=False))
        self.report = root / "tuned" / "report.md"
        self.report.write_text(REPORT)
        self.outputs = root / "github_output"
        self.outputs.touch()
        self.event(pull_request_payload(head_sha=self.head))
        monkeypatch.setenv("GITHUB_OUTPUT", str(self.outputs))
        # No identity of the developer running the tests: the kit names the Actions bot.
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(root / "no-gitconfig"))
        monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        monkeypatch.delenv("PUSH_TOKEN", raising=False)
        monkeypatch.chdir(root)
        self.monkeypatch = monkeypatch

    def event(self, payload: dict) -> None:
        self.event_path = self.root / "event.json"
        self.event_path.write_text(json.dumps(payload))

    def push(self, report: str | None = None) -> None:
        self.monkeypatch.setenv("GITHUB_EVENT_PATH", str(self.event_path))
        push.main(tuned=self.tuned, checkout=self.checkout, report=report or str(self.report))

    def unchanged(self) -> bool:
        """Nothing pushed, nothing committed, the checkout's params.yaml as it was."""
        return (
            git(self.bare, "rev-parse", "feature") == self.head
            and git(self.checkout, "rev-parse", "HEAD") == self.head
            and yaml.safe_load((self.checkout / "params.yaml").read_text()) == self.params
        )


@pytest.fixture
def setup(tmp_path, monkeypatch, fake_github) -> Setup:
    fake_github.add_pull(7, head="feature")
    return Setup(tmp_path, monkeypatch)


def test_the_winner_is_committed_alone_and_pushed_to_the_branch(setup, fake_github) -> None:
    setup.push()

    tip = git(setup.bare, "rev-parse", "feature")
    assert git(setup.bare, "rev-parse", f"{tip}^") == setup.head
    assert git(setup.bare, "diff", "--name-only", setup.head, tip) == "params.yaml"
    assert git(setup.bare, "log", "-1", "--format=%s|%an", tip) == (
        f"{COMMIT_SUBJECT}|github-actions[bot]"
    )
    pushed = yaml.safe_load(git(setup.bare, "show", f"{tip}:params.yaml"))
    assert pushed == yaml.safe_load(setup.tuned.read_text())
    assert git(setup.bare, "rev-parse", "main") == setup.main
    assert read_outputs(setup.outputs) == {"pushed": "true", "sha": tip}
    # The report, with the pushed commit above its footer, is the one sticky comment.
    (comment,) = fake_github.comments[7]
    note = f"**Pushed:** the winning `params.yaml` is commit `{tip[:12]}` on `feature`."
    assert comment["body"].index("### Remediation: tried") < comment["body"].index(note)
    assert comment["body"].index(note) < comment["body"].index(push.FOOTER)
    assert "starts no workflow run" in comment["body"]


def test_with_a_push_token_the_report_says_the_checks_run_again(setup, fake_github) -> None:
    setup.monkeypatch.setenv("PUSH_TOKEN", "app-token")
    setup.push()
    body = fake_github.comments[7][0]["body"]
    assert "The push starts a new run of this pull request's checks." in body
    assert "starts no workflow run" not in body


def test_the_pull_requests_git_hooks_never_run(setup) -> None:
    hook = setup.checkout / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {setup.root / 'hook-ran'}\nexit 1\n")
    hook.chmod(0o755)
    setup.push()
    assert not (setup.root / "hook-ran").exists()
    assert git(setup.bare, "rev-parse", "feature") != setup.head


def test_a_fork_is_refused_before_anything_changes(setup, fake_github) -> None:
    setup.event(pull_request_payload(head_sha=setup.head, head_repository="someone/models"))
    with pytest.raises(UserError, match="refusing to push: the pull request comes from the fork"):
        setup.push()
    assert setup.unchanged() and fake_github.comments.get(7) is None


def test_the_default_branch_is_refused(setup) -> None:
    setup.event(pull_request_payload(head_sha=setup.head, head_ref="main"))
    with pytest.raises(UserError, match="is the default branch 'main'"):
        setup.push()
    assert setup.unchanged() and git(setup.bare, "rev-parse", "main") == setup.main


def test_a_tuned_file_that_is_no_valid_params_file_is_refused(setup) -> None:
    setup.tuned.write_text(setup.tuned.read_text() + "\nsurprise: {key: 1}\n")
    invalid = r"(?s)not a valid params file: .*params.yaml is invalid.*surprise: unknown key"
    with pytest.raises(UserError, match=invalid):
        setup.push()
    assert setup.unchanged()
    setup.tuned.write_text("train: [unclosed\n")
    with pytest.raises(UserError, match="cannot read it as YAML"):
        setup.push()
    assert setup.unchanged()


def test_a_tuned_file_changing_more_than_train_is_refused(setup) -> None:
    tuned = yaml.safe_load(setup.tuned.read_text())
    tuned["gate"]["min_accuracy"] = 0.1  # a search never lowers the bar
    setup.tuned.write_text(yaml.safe_dump(tuned))
    with pytest.raises(UserError, match="changes gate, not only `train`"):
        setup.push()
    assert setup.unchanged()


def test_a_branch_that_moved_since_the_run_is_not_overwritten(setup) -> None:
    (setup.work / "NOTE.md").write_text("Someone pushed meanwhile.\n")
    git(setup.work, "-c", "user.name=dev", "-c", "user.email=dev@x", "commit", "-qam", "c")
    git(setup.work, "push", "-q", str(setup.bare), "feature")
    moved = git(setup.bare, "rev-parse", "feature")
    with pytest.raises(UserError, match="git push failed"):
        setup.push()
    assert git(setup.bare, "rev-parse", "feature") == moved


def test_a_checkout_at_another_commit_is_refused(setup) -> None:
    git(setup.checkout, "checkout", "-q", "--detach", setup.main)
    with pytest.raises(UserError, match="not the tuned commit"):
        setup.push()
    assert git(setup.bare, "rev-parse", "feature") == setup.head


def test_a_missing_report_is_refused_before_the_push(setup) -> None:
    with pytest.raises(UserError, match="--report"):
        setup.push(report=str(setup.root / "missing.md"))
    assert setup.unchanged()


def test_settings_the_branch_already_holds_are_not_pushed_again(setup, fake_github) -> None:
    setup.tuned.write_text((setup.checkout / "params.yaml").read_text())
    setup.push()
    assert setup.unchanged()
    assert read_outputs(setup.outputs) == {"pushed": "false", "sha": ""}
    assert fake_github.comments.get(7) is None
