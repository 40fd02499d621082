"""pull-request: commit a retraining's results to its own branch and open or update its PR.

The commit holds what Git tracks of the results (params.yaml, dvc.lock, metric and plot files,
DVC pointer files), never the models or data, which DVC pushes to its remote. The branch is the
experiment's and is force-pushed: the pull request always shows the latest run. The default
branch is never pushed to. The token travels in the environment of `git push`
(GIT_CONFIG_* variables), so the checkout keeps no credentials and no command line shows it.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from ml.errors import UserError
from ml.github import client as github_client
from ml.github import env as github_env

if TYPE_CHECKING:
    from github.PullRequest import PullRequest
    from github.Repository import Repository

log = logging.getLogger(__name__)

BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")


def git(*args: str, env: dict | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(["git", *args], capture_output=True, text=True, env=env, cwd=cwd)
    if result.returncode != 0:
        raise UserError(f"git {args[0]} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def git_tracked_outputs(dvc_yaml: Path = Path("dvc.yaml")) -> list[str]:
    """Metric and plot files the pipeline keeps in Git (`cache: false`), plus dvc.lock."""
    stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages", {})
    paths = ["dvc.lock"]
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind, []):
                if isinstance(entry, dict):
                    paths += [p for p, opts in entry.items() if (opts or {}).get("cache") is False]
    return [path for path in paths if Path(path).exists()]


def commit_results(branch: str, message: str) -> str:
    """Commit the results on `branch` (made from HEAD); return the commit's SHA."""
    git("checkout", "-B", branch)
    git("add", "-u")
    git("add", "--", *git_tracked_outputs())
    new_ignores = git("ls-files", "--others", "--exclude-standard", "--", "*.gitignore")
    if new_ignores:
        git("add", "--", *new_ignores.splitlines())
    if not git("diff", "--cached", "--name-only"):
        raise UserError("the retraining changed nothing that Git tracks: no pull request")
    git(*commit_identity(), "commit", "--quiet", "-m", message)
    return git("rev-parse", "HEAD")


def commit_identity(cwd: Path | None = None) -> list[str]:
    """`-c` options naming the Actions bot, for what the repository's Git config leaves unset."""
    identity = [] if git_config("user.name", cwd) else ["-c", f"user.name={BOT[0]}"]
    return identity + ([] if git_config("user.email", cwd) else ["-c", f"user.email={BOT[1]}"])


def git_config(key: str, cwd: Path | None = None) -> str:
    result = subprocess.run(["git", "config", key], capture_output=True, text=True, cwd=cwd)
    return result.stdout.strip()


def valid_branch(name: str) -> bool:
    return bool(BRANCH.match(name)) and ".." not in name and not name.endswith((".lock", "/"))


def push(
    branch: str, remote: str, token: str, *, force: bool = True, cwd: Path | None = None
) -> None:
    """Push HEAD to `branch` (forced unless told otherwise), authenticating with the token
    through the environment."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    env = os.environ | {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
        "GIT_TERMINAL_PROMPT": "0",
    }
    forced = ["--force"] if force else []
    git("push", *forced, "--quiet", remote, f"HEAD:refs/heads/{branch}", env=env, cwd=cwd)


def open_or_update(
    repo: Repository, branch: str, base: str, title: str, body: str
) -> tuple[PullRequest, str]:
    owner = repo.owner.login
    for pull in repo.get_pulls(state="open", head=f"{owner}:{branch}", base=base):
        pull.edit(title=title, body=body)
        return pull, "updated"
    return repo.create_pull(base=base, head=branch, title=title, body=body), "opened"


def read_bodies(paths: list[Path]) -> str:
    parts = []
    for path in paths:
        try:
            parts.append(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise UserError(f"--body-files: {path}: {exc.strerror or exc}") from None
    return "\n\n".join(part for part in parts if part)


def main(
    branch: Annotated[str, typer.Option(help="Branch for the results (never the default).")],
    title: Annotated[str, typer.Option(help="Pull request title.")],
    body_files: Annotated[
        str, typer.Option(help="Markdown files for the description, one path per line.")
    ] = "",
    base: Annotated[str, typer.Option(help="Base branch (empty: the default branch).")] = "",
    remote: Annotated[str, typer.Option(help="Git remote to push to.")] = "origin",
) -> None:
    """Commit the results to BRANCH, push it, and open or update its pull request."""
    if not valid_branch(branch):
        raise UserError(f"--branch {branch!r} is not a valid branch name")
    paths = [Path(line.strip()) for line in body_files.splitlines() if line.strip()]
    body = read_bodies(paths) or f"Results of `{branch}`."
    with github_client.api_errors(f" for {github_env.repository_name()}"):
        repo = github_client.repository_client()
        base = base or repo.default_branch
        if branch in (base, repo.default_branch):
            raise UserError(f"refusing to push results to {branch!r}, the base/default branch")
        sha = commit_results(branch, title)
        push(branch, remote, github_env.token())
        pull, operation = open_or_update(repo, branch, base, title, body)
    log.info("Pull request #%d %s: %s (%s)", pull.number, operation, pull.html_url, sha[:12])
    github_env.append_step_summary(
        f"Pull request [#{pull.number}]({pull.html_url}) {operation} from `{branch}`.\n"
    )
    github_env.write_outputs(
        {"number": str(pull.number), "url": pull.html_url, "operation": operation, "sha": sha}
    )
