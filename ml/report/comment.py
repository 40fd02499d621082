"""The report as one sticky pull-request comment, CML's convention: a hidden marker finds the
previous comment, which is edited in place, so a PR never collects a second report.

Client: PyGithub. It is the most used Python client of the GitHub REST API, follows
GITHUB_API_URL as `base_url` (GitHub Enterprise Server, a local test server), pages through
`Link` headers, and retries through urllib3's Retry with GitHub's rate-limit rules built in
(GithubRetry waits for Retry-After / X-RateLimit-Reset); githubkit would add an async stack
this synchronous command does not need.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from ml.errors import UserError
from ml.github import env as github_env

log = logging.getLogger(__name__)

RETRIES = 4  # per request, on 5xx, 429 and rate-limited 403
BACKOFF_SECONDS = 1.0  # urllib3 waits 0, 2, 4, 8 s between the retries
MAX_RATE_LIMIT_WAIT_SECONDS = 300  # a longer rate-limit reset fails the step instead of waiting
COMMENT_LIMIT_CHARS = 65_536  # GitHub refuses longer comment bodies


def marker_line(marker: str) -> str:
    return f"<!-- {marker} -->"


def fit_comment(body: str, marker: str) -> str:
    """Cut a body that GitHub would refuse, keeping the marker so the comment stays sticky."""
    if len(body) <= COMMENT_LIMIT_CHARS:
        return body
    note = "\n\n…report cut to fit a comment; the full text is in the job summary.\n"
    cut = body[: COMMENT_LIMIT_CHARS - len(note) - 100]
    if marker_line(marker) not in cut:
        cut = marker_line(marker) + "\n" + cut
    return cut + note


def client():
    from github import Auth, Github, GithubRetry

    retry = GithubRetry(
        total=RETRIES,
        backoff_factor=BACKOFF_SECONDS,
        status_forcelist=[429, *range(500, 600)],
        # PATCH is idempotent; POST is retried too, as PyGithub does by default: a 5xx after
        # GitHub stored the comment is the one case that could leave a second comment behind.
        allowed_methods={"GET", "POST", "PATCH"},
        max_rate_limit_wait=MAX_RATE_LIMIT_WAIT_SECONDS,
    )
    return Github(
        auth=Auth.Token(github_env.token()),
        base_url=github_env.api_url(),
        retry=retry,
        per_page=100,
        timeout=30,
    )


def post(body: str, number: int, marker: str) -> str:
    """Create or update the marked comment on PR `number`: 'created', 'updated', or 'forbidden'
    when the token may not write (a fork's read-only GITHUB_TOKEN)."""
    from github import (
        GithubException,
        RateLimitExceededExceedsMaxWait,
        RateLimitExceededException,
    )
    from requests import RequestException

    body = fit_comment(body, marker)
    repo_name = github_env.repository()
    try:
        issue = client().withLazy(True).get_repo(repo_name).get_issue(number)
        for comment in issue.get_comments():
            if marker_line(marker) in (comment.body or ""):
                comment.edit(body)
                log.info("Updated the report comment %s on PR #%d", comment.id, number)
                return "updated"
        created = issue.create_comment(body)
        log.info("Created the report comment %s on PR #%d", created.id, number)
        return "created"
    except RateLimitExceededExceedsMaxWait as exc:
        raise UserError(f"GitHub rate limit: the reset is {exc.wait:.0f} s away") from None
    except RateLimitExceededException:
        raise UserError(f"GitHub rate limit: still limited after {RETRIES} retries") from None
    except GithubException as exc:
        if exc.status == 403:
            return "forbidden"
        message = (exc.data or {}).get("message") if isinstance(exc.data, dict) else exc.data
        raise UserError(
            f"GitHub API answered {exc.status} ({message}) for {repo_name} PR #{number}"
        ) from None
    except RequestException as exc:
        raise UserError(f"GitHub API at {github_env.api_url()} failed: {exc}") from None


def post_with_cml(report_file: Path, marker: str) -> None:
    """Hand the report file to `cml comment update` (CML's own sticky comment)."""
    cml = shutil.which("cml")
    if cml is None:
        raise UserError("--poster cml: no `cml` executable on PATH")
    command = [cml, "comment", "update", f"--watermark-title={marker}", str(report_file)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-500:]
        raise UserError(f"cml comment update exited {result.returncode}: {tail}")
    log.info("Posted the report with cml: %s", result.stdout.strip()[-200:])
