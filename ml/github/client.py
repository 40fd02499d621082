"""GitHub for `ml deploy` and `ml monitor`, through PyGithub and the standard Actions environment
(GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN, GITHUB_SHA, GITHUB_STEP_SUMMARY,
GITHUB_OUTPUT): the job summary, step outputs, a comment on the pull requests of a commit, one
marked issue opened or updated, and a workflow dispatch."""

from __future__ import annotations

import logging
import os

# The Actions-file helpers live with the rest of the Actions environment; deploy and monitor
# reach them through this module.
from ml.github.env import append_step_summary, write_outputs

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
__all__ = ["append_step_summary", "write_outputs"]


def configured() -> bool:
    """Whether the environment names a repository and a token to act with."""
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    return bool(os.environ.get("GITHUB_TOKEN")) and repository.count("/") == 1


def repository():
    from github import Auth, Github, GithubRetry

    client = Github(
        auth=Auth.Token(os.environ["GITHUB_TOKEN"]),
        base_url=(os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
        retry=GithubRetry(total=3, backoff_factor=1.0, status_forcelist=[429, 502, 503, 504]),
        timeout=30,
    )
    return client.withLazy(True).get_repo(os.environ["GITHUB_REPOSITORY"])


def comment_on_pulls_of(sha: str, body: str) -> list[int]:
    """Comment on every merged pull request that `sha` belongs to; their numbers."""
    repo = repository()
    numbers = []
    for pull in repo.get_commit(sha).get_pulls():
        if pull.merged_at is None and pull.merge_commit_sha != sha:
            continue
        pull.create_issue_comment(body)
        numbers.append(pull.number)
    return numbers


def upsert_issue(marker: str, title: str, body: str, label: str) -> tuple[int, str]:
    """Update the open issue whose body carries `marker`, or open one: (number, 'updated' or
    'opened'). The marker keeps it to one issue however often the monitor reports."""
    repo = repository()
    marked = f"<!-- {marker} -->"
    text = f"{body.rstrip()}\n\n{marked}\n"
    for issue in repo.get_issues(state="open", labels=[label]):
        if marked in (issue.body or ""):
            issue.edit(title=title, body=text)
            return issue.number, "updated"
    issue = repo.create_issue(title=title, body=text, labels=[label])
    return issue.number, "opened"


def dispatch_workflow(workflow: str, ref: str, inputs: dict[str, str]) -> bool:
    """Start `workflow` (a file name such as retrain.yml) on `ref`; True when GitHub accepted."""
    return bool(repository().get_workflow(workflow).create_dispatch(ref, inputs))
