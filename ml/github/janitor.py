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
from typing import TYPE_CHECKING, Annotated

import typer

from ml.errors import UserError
from ml.github import client as github_client
from ml.github import env as github_env

if TYPE_CHECKING:
    from github import Auth
    from github.Repository import Repository

log = logging.getLogger("ml.github.janitor")


def is_stale(runner, labels: set[str]) -> bool:
    names = {label["name"] for label in runner.labels}
    return runner.status == "offline" and not runner.busy and labels <= names


def credentials(repository: str) -> Auth.Auth:
    """A GitHub App installation's credentials, else RUNNER_ADMIN_TOKEN: the job's GITHUB_TOKEN
    can never administer runners."""
    from github import Auth

    app_id, private_key = os.environ.get("GITHUB_APP_ID"), os.environ.get("GITHUB_APP_PRIVATE_KEY")
    if app_id and private_key:
        return github_client.app_installation_auth(app_id, private_key, repository)
    if os.environ.get("RUNNER_ADMIN_TOKEN"):
        return Auth.Token(os.environ["RUNNER_ADMIN_TOKEN"])
    raise UserError(
        "no credentials: set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY (a GitHub App with "
        "Administration: read and write) or RUNNER_ADMIN_TOKEN; the workflow's GITHUB_TOKEN "
        "cannot administer runners"
    )


def connect() -> Repository:
    """GITHUB_REPOSITORY as a PyGithub repository, authenticated for runner administration."""
    return github_client.repository_client(credentials(github_env.repository_name()))


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
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    needs = "the token needs permission to administer the repository's runners"
    with github_client.api_errors(" removing stale runners", refused_hint=needs):
        removed = remove_stale(connect(), set(label or ["gpu"]), grace_seconds, dry_run)
    verb = "would remove" if dry_run else "removed"
    summary = f"Runner janitor {verb} {len(removed)} stale runner(s)" + (
        f": {', '.join(removed)}" if removed else ""
    )
    typer.echo(summary)
    github_env.append_step_summary(summary)


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
