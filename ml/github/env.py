"""The GitHub Actions context, from the standard environment: the pull request in the event
payload, the API address, step outputs and the job summary. Nothing here talks to the network."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ml.errors import UserError

DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True)
class PullRequest:
    number: int
    base_sha: str
    base_ref: str
    head_sha: str


def event_payload() -> dict | None:
    """The webhook payload of the event that started the workflow, or None outside Actions."""
    path = os.environ.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"GITHUB_EVENT_PATH={path}: cannot read the event: {exc}") from None
    if not isinstance(payload, dict):
        raise UserError(f"GITHUB_EVENT_PATH={path}: the event payload is not a JSON object")
    return payload


def pull_request() -> PullRequest | None:
    """The pull request of a `pull_request` (or `pull_request_target`) event, else None."""
    payload = event_payload()
    pull = (payload or {}).get("pull_request")
    if not isinstance(pull, dict):
        return None
    try:
        return PullRequest(
            number=int(pull["number"]),
            base_sha=str(pull["base"]["sha"]),
            base_ref=str(pull["base"].get("ref", "")),
            head_sha=str(pull["head"]["sha"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"the pull_request in the event payload lacks {exc}") from None


def api_url() -> str:
    """GITHUB_API_URL: api.github.com, a GitHub Enterprise Server, or a test server."""
    return (os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")


def repository_name() -> str:
    """GITHUB_REPOSITORY, the 'owner/name' the job runs for."""
    name = os.environ.get("GITHUB_REPOSITORY", "")
    if name.count("/") != 1 or not all(name.split("/")):
        raise UserError(f"GITHUB_REPOSITORY must be 'owner/name', got {name!r}")
    return name


def token() -> str:
    """GITHUB_TOKEN, the job's token: Actions hands it to a step only through `env:`."""
    value = os.environ.get("GITHUB_TOKEN", "")
    if not value:
        raise UserError(
            "GITHUB_TOKEN is not set: give the step the job's token "
            "(env: GITHUB_TOKEN: ${{ github.token }})"
        )
    return value


def run_url() -> str | None:
    """The page of this workflow run, where its artifacts are listed; None outside Actions."""
    server = os.environ.get("GITHUB_SERVER_URL")
    run_id = os.environ.get("GITHUB_RUN_ID")
    repo = os.environ.get("GITHUB_REPOSITORY")
    if not (server and run_id and repo):
        return None
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"


def append_step_summary(markdown: str) -> bool:
    """Append to the job summary page when GITHUB_STEP_SUMMARY is set; True if written."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(markdown.rstrip("\n") + "\n")
    return True


def write_outputs(values: dict[str, object]) -> bool:
    """Set step outputs when GITHUB_OUTPUT is set; True if written.

    Each value goes in the multi-line form (`name<<DELIMITER`) with a random delimiter, so no
    value, however odd, can end its own entry early and inject another output.
    """
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return False
    lines = []
    for name, value in values.items():
        delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        lines += [f"{name}<<{delimiter}", "" if value is None else str(value), delimiter]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return True
