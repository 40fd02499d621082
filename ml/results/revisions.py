"""The commit a pull request is compared with, and files read from it through Git.

The base is the PR's `pull_request.base.sha` from the event payload (never a branch name baked
in), or `--base-ref` for local use. In Actions the checkout needs the base commit, which
`actions/checkout` fetches only with `fetch-depth: 0`.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from ml.errors import UserError
from ml.github import env as github_env

GIT_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class BaseCommit:
    sha: str
    label: str  # what to call it in the report: the base branch, or the ref given


def resolve_base(base_ref: str | None) -> BaseCommit | None:
    """The commit to compare with: `base_ref` if given, else the PR's base; None if neither."""
    if base_ref:
        sha = commit_sha(base_ref)
        if sha is None:
            raise UserError(f"--base-ref {base_ref!r} is not a commit in this repository")
        # A branch or tag name says more than a hash; a hash is shown short.
        named = not re.fullmatch(r"[0-9a-f]{7,40}", base_ref)
        return BaseCommit(sha, base_ref if named else sha[:12])
    pull = github_env.pull_request()
    if pull is None:
        return None
    sha = commit_sha(pull.base_sha)
    if sha is None:
        raise UserError(
            f"the base commit {pull.base_sha[:12]} of PR #{pull.number} is not in this checkout; "
            "check out with full history (actions/checkout with fetch-depth: 0)"
        )
    return BaseCommit(sha, pull.base_ref or pull.base_sha[:12])


def commit_sha(ref: str) -> str | None:
    """The full SHA `ref` names, or None when it names no commit here (or this is not Git)."""
    if ref.startswith("-"):
        return None  # never let a ref be read as an option
    result = git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"])
    return result.stdout.strip() if result.returncode == 0 else None


def head_sha() -> str | None:
    return commit_sha("HEAD")


def read_at(sha: str, path: str) -> str | None:
    """The text of `path` (relative to the working directory) at commit `sha`, or None when the
    commit has no such file."""
    result = git(["show", f"{sha}:./{path}"])
    return result.stdout if result.returncode == 0 else None


def git(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_SECONDS
        )
    except FileNotFoundError:
        raise UserError("git is not installed: it is needed to read the base commit") from None
