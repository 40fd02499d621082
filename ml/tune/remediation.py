"""When the kit may remediate a failed gate on a pull request: search better `train` settings
(`ml remediate`) and push the winning params.yaml to the pull request's branch (`ml push-params`).

Pure decisions over the event payload, so each refusal is tested without a workflow: never for a
pull request from a fork (its branch is not ours to push to, and its code never gets a write
token), never onto the default branch, never when the gate passed, and only when the repository
opted in (an input of the reusable workflow, or a label on the pull request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ml.errors import UserError

LABEL = "runwright:tune"  # the pull-request label that opts one pull request in
# The subject of the commit `ml push-params` makes. A head commit with it is not tuned again, so
# a push that starts a new run (push-token) cannot start an endless loop of searches.
COMMIT_SUBJECT = "Tune params.yaml after the failed quality gate (ml remediate)"
# A label name as GitHub allows it (at most 50 characters), without control characters.
LABEL_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,50}$")


@dataclass(frozen=True)
class PullRequestContext:
    number: int
    head_ref: str  # the branch name: untrusted, chosen by whoever opened the pull request
    head_sha: str
    head_repository: str  # owner/name the branch lives in
    base_repository: str  # owner/name the pull request merges into
    default_branch: str
    labels: tuple[str, ...]

    @property
    def from_fork(self) -> bool:
        return self.head_repository.lower() != self.base_repository.lower()


def pull_request_context(payload: dict | None) -> PullRequestContext:
    """The facts of a `pull_request` event that the decisions need; UserError outside one."""
    pull = (payload or {}).get("pull_request")
    if not isinstance(pull, dict):
        raise UserError("not a pull_request event: remediation runs only on pull requests")
    try:
        base_repository = str(pull["base"]["repo"]["full_name"])
        head_repo = pull["head"].get("repo")  # null when the fork was deleted
        return PullRequestContext(
            number=int(pull["number"]),
            head_ref=str(pull["head"]["ref"]),
            head_sha=str(pull["head"]["sha"]),
            head_repository=str(head_repo["full_name"]) if head_repo else "(deleted fork)",
            base_repository=base_repository,
            default_branch=str(
                (payload or {}).get("repository", {}).get("default_branch")
                or pull["base"]["repo"].get("default_branch")
                or ""
            ),
            labels=tuple(str(label.get("name", "")) for label in pull.get("labels") or ()),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UserError(f"the pull_request in the event payload lacks {exc}") from None


def push_refusal(context: PullRequestContext) -> str | None:
    """Why the kit must not push to this pull request's branch, or None when it may."""
    if context.from_fork:
        return (
            f"the pull request comes from the fork {context.head_repository}: the kit never "
            "pushes to a fork's branch nor gives its code a write token"
        )
    if not context.default_branch:
        return "the event names no default branch: refusing to guess which branch is safe"
    if context.head_ref == context.default_branch:
        return f"the pull request's branch is the default branch {context.default_branch!r}"
    return None


def remediation_refusal(
    context: PullRequestContext,
    *,
    gate_passed: bool,
    opted_in: bool,
    label: str = LABEL,
    head_subject: str = "",
) -> str | None:
    """Why the kit must not tune for this pull request, or None when it should.
    `head_subject` is the subject line of the pull request's head commit."""
    if gate_passed:
        return "the quality gate passed: nothing to remediate"
    if head_subject == COMMIT_SUBJECT:
        return (
            "the head commit is the kit's own tuned params.yaml: it is not tuned again until "
            "someone pushes a change"
        )
    refused = push_refusal(context)
    if refused:
        return refused
    if not opted_in and label not in context.labels:
        return (
            f"not opted in: set the reusable workflow's input tune-on-failure: true, or add the "
            f"label {label!r} to the pull request"
        )
    return None


def check_label(label: str) -> str:
    if not LABEL_NAME.match(label):
        raise UserError(f"--label {label!r} is not a label name (1-50 printable characters)")
    return label
