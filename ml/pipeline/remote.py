"""dvc-remote: point this checkout at a DVC remote and give it credentials, for one job.

Everything goes to `.dvc/config.local` (ignored by Git, readable by the owner only), never to
the committed `.dvc/config`. The credentials arrive in the environment (`DVC_REMOTE_CREDENTIALS`,
one `option=value` per line, from a secret), never on a command line where `ps` would show them,
and DVC checks each option against the remote's own schema before anything is written.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Annotated

import typer

from ml.errors import UserError

log = logging.getLogger(__name__)

CREDENTIALS_ENV = "DVC_REMOTE_CREDENTIALS"
OPTION = re.compile(r"^[a-z][a-z0-9_]*$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def parse_credentials(text: str) -> dict[str, str]:
    """`option=value` lines -> {option: value}; blank lines and `#` comments are skipped."""
    options: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        option, sep, value = line.partition("=")
        option = option.strip()
        if not sep or not OPTION.match(option):
            # The line may hold a secret: name its number, never its text.
            raise UserError(f"{CREDENTIALS_ENV} line {number}: expected option=value")
        options[option] = value.strip()
    return options


def mask(values: list[str]) -> None:
    """Ask the Actions runner to hide each value in the job log from here on."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        for value in values:
            if value:
                print(f"::add-mask::{value}", flush=True)


def configure(name: str, url: str, credentials: dict[str, str], root: Path = Path(".")) -> str:
    """Write the remote (when `url` is given) and its credentials; return the remote's name."""
    from dvc.config import ConfigError
    from dvc.repo import Repo

    repo = Repo(str(root))
    try:
        remote = name if url else repo.config["core"].get("remote")
        if not remote:
            raise UserError("no DVC remote to configure: give a URL or set a default remote")
        if not url and remote not in repo.config["remote"]:
            raise UserError(f"the default DVC remote {remote!r} is not defined")
        with repo.config.edit("local") as local:
            section = local["remote"].setdefault(remote, {})
            if url:
                section["url"] = url
                local["core"]["remote"] = remote
            section.update(credentials)
    except ConfigError as exc:
        # DVC's message names the option, not its value.
        raise UserError(f"DVC remote {remote!r}: {exc}") from None
    finally:
        repo.close()
    (root / ".dvc" / "config.local").chmod(0o600)
    return remote


def main(
    url: Annotated[
        str, typer.Option(help="Remote URL to use as the default (empty: keep the default).")
    ] = "",
    name: Annotated[str, typer.Option(help="Name for the remote given by --url.")] = "ci",
) -> None:
    """Configure the DVC remote for this job; credentials come from $DVC_REMOTE_CREDENTIALS."""
    if not NAME.match(name):
        raise UserError(f"--name must be letters, digits, '-' or '_', got {name!r}")
    credentials = parse_credentials(os.environ.get(CREDENTIALS_ENV, ""))
    mask(list(credentials.values()))
    remote = configure(name, url.strip(), credentials)
    options = ", ".join(sorted(credentials)) or "none"
    log.info("DVC remote %r set in .dvc/config.local (credential options: %s)", remote, options)
