"""The report as one sticky pull-request comment, CML's convention: a hidden marker finds the
previous comment, which is edited in place, so a PR never collects a second report. GitHub is
reached through the kit's one client (ml/github/client.py)."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from ml.errors import UserError
from ml.github import client as github_client
from ml.github import env as github_env

log = logging.getLogger(__name__)

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


def post(body: str, number: int, marker: str) -> str:
    """Create or update the marked comment on PR `number`: 'created', 'updated', or 'forbidden'
    when the token may not write (a fork's read-only GITHUB_TOKEN)."""
    from github import GithubException, RateLimitExceededException

    body = fit_comment(body, marker)
    with github_client.api_errors(f" for {github_env.repository_name()} PR #{number}"):
        try:
            return upsert_comment(body, number, marker)
        except GithubException as exc:
            if exc.status == 403 and not isinstance(exc, RateLimitExceededException):
                return "forbidden"
            raise


def upsert_comment(body: str, number: int, marker: str) -> str:
    issue = github_client.repository_client().get_issue(number)
    for comment in issue.get_comments():
        if marker_line(marker) in (comment.body or ""):
            comment.edit(body)
            log.info("Updated the report comment %s on PR #%d", comment.id, number)
            return "updated"
    created = issue.create_comment(body)
    log.info("Created the report comment %s on PR #%d", created.id, number)
    return "created"


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
