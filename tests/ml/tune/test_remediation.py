"""When the kit may remediate a failed gate and push to a pull request's branch: the decisions of
ml/tune/remediation.py over real-shaped `pull_request` event payloads."""

from __future__ import annotations

import pytest

from ml.errors import UserError
from ml.tune import remediation
from ml.tune.remediation import COMMIT_SUBJECT, LABEL, pull_request_context

REPOSITORY = "octo/models"


def pull_request_payload(
    *,
    head_ref: str = "feature",
    head_repository: str | None = REPOSITORY,
    labels: tuple[str, ...] = (),
    default_branch: str = "main",
    head_sha: str = "b" * 40,
    base_sha: str = "a" * 40,
) -> dict:
    """A `pull_request` event as GitHub sends it, with the fields the kit reads."""
    head_repo = {"full_name": head_repository} if head_repository else None
    return {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {"ref": head_ref, "sha": head_sha, "repo": head_repo},
            "base": {"ref": "main", "sha": base_sha, "repo": {"full_name": REPOSITORY}},
            "labels": [{"name": name} for name in labels],
        },
        "repository": {"full_name": REPOSITORY, "default_branch": default_branch},
    }


def refusal(payload: dict, *, gate_passed=False, opted_in=True, **options) -> str | None:
    return remediation.remediation_refusal(
        pull_request_context(payload), gate_passed=gate_passed, opted_in=opted_in, **options
    )


def test_a_failed_gate_on_an_opted_in_same_repository_pull_request_is_remediated() -> None:
    assert refusal(pull_request_payload(), opted_in=True) is None


def test_the_label_opts_one_pull_request_in_without_the_input() -> None:
    assert refusal(pull_request_payload(labels=("bug", LABEL)), opted_in=False) is None
    custom = pull_request_payload(labels=("tune please",))
    assert refusal(custom, opted_in=False, label="tune please") is None
    assert "not opted in" in (refusal(custom, opted_in=False) or "")


def test_without_the_input_or_the_label_nothing_runs_and_says_how_to_opt_in() -> None:
    reason = refusal(pull_request_payload(labels=("bug",)), opted_in=False)
    assert reason is not None and "tune-on-failure: true" in reason and repr(LABEL) in reason


def test_a_passed_gate_is_never_remediated() -> None:
    reason = refusal(pull_request_payload(labels=(LABEL,)), gate_passed=True)
    assert reason == "the quality gate passed: nothing to remediate"


@pytest.mark.parametrize("head_repository", ["someone/models", None])
def test_a_fork_is_refused_whatever_opts_it_in(head_repository) -> None:
    payload = pull_request_payload(head_repository=head_repository, labels=(LABEL,))
    reason = refusal(payload, opted_in=True)
    assert reason is not None and "fork" in reason
    assert "fork" in (remediation.push_refusal(pull_request_context(payload)) or "")


def test_the_repository_name_is_compared_as_github_does_without_case() -> None:
    assert refusal(pull_request_payload(head_repository="Octo/Models")) is None


def test_the_default_branch_is_never_pushed_to() -> None:
    payload = pull_request_payload(head_ref="develop", default_branch="develop")
    reason = refusal(payload)
    assert reason == "the pull request's branch is the default branch 'develop'"
    assert remediation.push_refusal(pull_request_context(payload)) == reason


def test_without_a_default_branch_in_the_event_nothing_is_pushed() -> None:
    payload = pull_request_payload(default_branch="")
    assert "no default branch" in (refusal(payload) or "")


def test_the_kits_own_tuned_commit_is_not_tuned_again() -> None:
    reason = refusal(pull_request_payload(), head_subject=COMMIT_SUBJECT)
    assert reason is not None and "not tuned again" in reason
    assert refusal(pull_request_payload(), head_subject="Fix the model") is None


def test_outside_a_pull_request_event_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="not a pull_request event"):
        pull_request_context({"ref": "refs/heads/main"})
    with pytest.raises(UserError, match="not a pull_request event"):
        pull_request_context(None)
    broken = pull_request_payload()
    del broken["pull_request"]["head"]["sha"]
    with pytest.raises(UserError, match="lacks 'sha'"):
        pull_request_context(broken)


def test_a_label_option_that_is_no_label_name_is_refused() -> None:
    assert remediation.check_label(LABEL) == LABEL
    for bad in ["", "x" * 51, "line\nbreak"]:
        with pytest.raises(UserError, match="is not a label name"):
            remediation.check_label(bad)
