"""runner janitor: remove stale self-hosted runners of a repository.

A just-in-time runner deregisters itself after its job. One whose machine died mid-job (power
cut, OOM kill, a deleted pod) stays listed as offline until GitHub drops it a day later,
cluttering the runner list and hiding real outages. The janitor removes runners that are offline,
idle and carry the given labels, and only those still offline after a grace period: a runner
registered a moment ago is offline until its process connects.

Run: python -m ml.github.janitor --label gpu  (the runner-janitor workflow does, hourly). Needs a
token that may administer runners, which the workflow's GITHUB_TOKEN never may: a GitHub App
(GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY, the App with "Administration: read and write"), or a
short-lived RUNNER_ADMIN_TOKEN minted elsewhere.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Annotated

import typer

from ml.errors import UserError

log = logging.getLogger("ml.github.janitor")


def is_stale(runner, labels: set[str]) -> bool:
    names = {label["name"] for label in runner.labels}
    return runner.status == "offline" and not runner.busy and labels <= names


def connect(api_url: str):
    """A PyGithub client authenticated for runner administration of GITHUB_REPOSITORY."""
    from github import Auth, Github, GithubIntegration

    app_id, private_key = os.environ.get("GITHUB_APP_ID"), os.environ.get("GITHUB_APP_PRIVATE_KEY")
    if app_id and private_key:
        app = Auth.AppAuth(app_id, private_key)
        owner, name = repository().split("/")
        installation = GithubIntegration(auth=app, base_url=api_url).get_repo_installation(
            owner, name
        )
        auth = app.get_installation_auth(installation.id)
    elif os.environ.get("RUNNER_ADMIN_TOKEN"):
        auth = Auth.Token(os.environ["RUNNER_ADMIN_TOKEN"])
    else:
        raise UserError(
            "no credentials: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (a GitHub App with "
            "Administration: read and write) or RUNNER_ADMIN_TOKEN; the workflow's GITHUB_TOKEN "
            "cannot administer runners"
        )
    return Github(auth=auth, base_url=api_url, per_page=100, lazy=True)


def repository() -> str:
    name = os.environ.get("GITHUB_REPOSITORY", "")
    if name.count("/") != 1 or not all(name.split("/")):
        raise UserError(f"GITHUB_REPOSITORY must be owner/repo, got {name!r}")
    return name


def remove_stale(
    repo, labels: set[str], grace_seconds: float, dry_run: bool, sleep=time.sleep
) -> list[str]:
    """Names of the runners removed (or, in a dry run, that would be)."""
    candidates = {
        runner.id for runner in repo.get_self_hosted_runners() if is_stale(runner, labels)
    }
    if not candidates:
        return []
    sleep(grace_seconds)
    removed = []
    for runner in repo.get_self_hosted_runners():
        if runner.id in candidates and is_stale(runner, labels):
            if not dry_run:
                repo.remove_self_hosted_runner(runner.id)
            log.info(
                "%s stale runner %s (id %d)",
                "Would remove" if dry_run else "Removed",
                runner.name,
                runner.id,
            )
            removed.append(runner.name)
    return removed


def main(
    label: Annotated[
        list[str] | None,
        typer.Option(
            metavar="LABEL", help="Only runners with this label (repeatable; default: gpu)."
        ),
    ] = None,
    grace_seconds: Annotated[
        float, typer.Option(min=0, help="Remove only runners still offline after this long.")
    ] = 120.0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", envvar="JANITOR_DRY_RUN", help="List, remove nothing.")
    ] = False,
) -> None:
    """Remove offline, idle self-hosted runners that carry the given labels."""
    from github import GithubException
    from requests import RequestException

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    api_url = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
    try:
        client = connect(api_url)
        repo = client.get_repo(repository())
        removed = remove_stale(repo, set(label or ["gpu"]), grace_seconds, dry_run)
    except RequestException as exc:
        raise UserError(f"cannot reach the GitHub API at {api_url}: {exc}") from None
    except GithubException as exc:
        message = exc.data.get("message") if isinstance(exc.data, dict) else exc.data
        raise UserError(
            f"GitHub answered HTTP {exc.status}: {message} (the token needs permission to "
            "administer the repository's runners)"
        ) from None
    verb = "would remove" if dry_run else "removed"
    summary = f"Runner janitor {verb} {len(removed)} stale runner(s)" + (
        f": {', '.join(removed)}" if removed else ""
    )
    typer.echo(summary)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(summary + "\n")


def run() -> None:
    """The command line: a user error is one message on stderr and exit status 1."""

    @functools.wraps(main)
    def janitor(*args, **kwargs):
        try:
            main(*args, **kwargs)
        except UserError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=1) from None

    typer.run(janitor)


if __name__ == "__main__":
    run()
