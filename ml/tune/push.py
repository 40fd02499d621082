"""push-params: commit the params.yaml that `ml remediate` wrote to the pull request's branch,
push it, and update the report comment with what was pushed.

It runs in a job of its own, the one that holds `contents: write`, after the job that ran the
pull request's code; it runs none of that code itself. It only reads the tuned file, checks that
it is a valid params file differing from the branch's in `train` alone, and commits that one file
with Git hooks turned off. The push is not forced: when the branch moved since the run started,
Git refuses it and nothing is overwritten. Forks and the default branch are refused.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
import yaml

from ml.config import Params, ParamsError, load_params, parse_params
from ml.errors import UserError
from ml.github import env as github_env
from ml.github.pull_request import commit_identity, git, push, valid_branch
from ml.io import write_text
from ml.report import comment
from ml.report.markdown import MARKER
from ml.tune import remediation

log = logging.getLogger(__name__)

FOOTER = "<details><summary>Reproduce this run</summary>"


def read_tuned(path: Path) -> tuple[str, Params]:
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"--tuned {path}: cannot read it as YAML: {exc}") from None
    try:
        return text, parse_params(raw, source=str(path))
    except ParamsError as exc:
        raise UserError(f"--tuned: not a valid params file: {exc}") from None


def check_only_train_differs(current: Params, tuned: Params, path: Path) -> None:
    """The search writes `train` only: a tuned file changing any other section is refused."""
    old, new = current.model_dump(mode="json"), tuned.model_dump(mode="json")
    sections = (old.keys() | new.keys()) - {"train"}
    other = sorted(key for key in sections if old.get(key) != new.get(key))
    if other:
        raise UserError(
            f"--tuned {path} changes {', '.join(other)}, not only `train`: refusing to push it"
        )


def push_note(branch: str, sha: str, starts_runs: bool) -> str:
    note = f"**Pushed:** the winning `params.yaml` is commit `{sha[:12]}` on `{branch}`."
    if starts_runs:
        return f"{note} The push starts a new run of this pull request's checks."
    return (
        f"{note} A push made with the workflow's `GITHUB_TOKEN` starts no workflow run on "
        "GitHub, so the gate result above is this run's own re-training with the winner. Give "
        "the workflow the `push-token` secret (a GitHub App or fine-grained token with "
        "contents: write) to have such a push re-run the checks."
    )


def with_note(report: str, note: str) -> str:
    """The report with `note` above its reproducibility footer (or at the end)."""
    head, footer, tail = report.partition(FOOTER)
    if not footer:
        return f"{report.rstrip()}\n\n{note}\n"
    return f"{head.rstrip()}\n\n{note}\n\n{footer}{tail}"


def main(
    tuned: Annotated[Path, typer.Option(help="The params.yaml that `ml remediate` wrote.")],
    checkout: Annotated[
        Path, typer.Option(help="The pull request's checkout, at the commit that was tuned.")
    ] = Path("."),
    report: Annotated[
        str, typer.Option(help="The Markdown report to post (empty: post nothing).")
    ] = "",
    post: Annotated[bool, typer.Option(help="Update the sticky report comment.")] = True,
    remote: Annotated[str, typer.Option(help="Git remote to push to.")] = "origin",
) -> None:
    """Commit the tuned params.yaml to the pull request's branch and push it (with PUSH_TOKEN
    when set, else GITHUB_TOKEN); then update the report comment."""
    context = remediation.pull_request_context(github_env.event_payload())
    refused = remediation.push_refusal(context)
    if refused:
        raise UserError(f"refusing to push: {refused}")
    if not valid_branch(context.head_ref):
        raise UserError(f"the pull request's branch {context.head_ref!r} is not a branch name")
    text, tuned_params = read_tuned(tuned)
    markdown = read_report(report, post)  # before any change: nothing half-done on a bad path
    target = checkout / "params.yaml"
    check_only_train_differs(load_params(target), tuned_params, tuned)
    head = git("rev-parse", "HEAD", cwd=checkout)
    if head != context.head_sha:
        raise UserError(
            f"{checkout} is at {head[:12]}, not the tuned commit {context.head_sha[:12]}"
        )
    if target.read_text(encoding="utf-8") == text:
        log.info("%s already holds the winning settings: nothing to push", target)
        github_env.write_outputs({"pushed": "false", "sha": ""})
        return
    write_text(target, text)
    git("add", "--", "params.yaml", cwd=checkout)
    # No hook of the pull request's runs here: this job holds the write token.
    hooks_off = ["-c", "core.hooksPath=/dev/null"]
    message = ["-m", remediation.COMMIT_SUBJECT]
    git(*commit_identity(checkout), *hooks_off, "commit", "--quiet", *message, cwd=checkout)
    sha = git("rev-parse", "HEAD", cwd=checkout)
    # GITHUB_TOKEN's pushes start no workflow run (GitHub's rule against loops); a PUSH_TOKEN
    # from an App or a person does, so the pull request's checks run again on the new commit.
    push_token = os.environ.get("PUSH_TOKEN", "")
    push(context.head_ref, remote, push_token or github_env.token(), force=False, cwd=checkout)
    note = push_note(context.head_ref, sha, starts_runs=bool(push_token))
    log.info("Pushed %s to %s", sha[:12], context.head_ref)
    github_env.append_step_summary(f"## Remediation pushed\n\n{note}\n")
    github_env.write_outputs({"pushed": "true", "sha": sha})
    if markdown is not None:
        comment.post(with_note(markdown, note), context.number, MARKER)


def read_report(report: str, post: bool) -> str | None:
    if not (report and post):
        return None
    try:
        return Path(report).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--report {report}: {exc.strerror or exc}") from None
