"""The security rules of DESIGN.md section 5 as functions that list the problems of one file, so
the tests can show each rule both passing on the kit and catching a bad example."""

from __future__ import annotations

import re

from tests.workflows.kit_files import KIT_CHECKOUT, KIT_REPOSITORY, YamlFile, steps_of

SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+$")
KIT_CALL = re.compile(rf"^{KIT_REPOSITORY}/\.github/workflows/(?P<file>[\w-]+\.yml)@v\d+$")
SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
GITHUB_HOSTED = re.compile(r"^(ubuntu|windows|macos)-[0-9a-z.-]+$")


def unpinned_uses(file: YamlFile) -> list[str]:
    """Third-party `uses:` not pinned to a full commit SHA with a `# vX.Y.Z` comment."""
    problems = []
    for reference, comment in file.uses_lines():
        if reference.startswith("./") or KIT_CALL.match(reference):
            continue  # this repository, or the kit's major tag (docs/versioning.md)
        if not SHA_PIN.match(reference):
            problems.append(f"{reference} is not pinned to a commit SHA")
        elif not (comment and VERSION_COMMENT.match(comment.strip())):
            problems.append(f"{reference} has no `# vX.Y.Z` comment")
    return problems


def expressions_in_run(file: YamlFile) -> list[str]:
    return [
        f"{where}: an expression inside run:"
        for where, step in steps_of(file)
        if "${{" in str(step.get("run", ""))
    ]


def fork_reachable_runners(file: YamlFile) -> list[str]:
    """Jobs of a pull request workflow that could put a fork's code on a self-hosted runner."""
    problems = []
    for job_id, job in file.jobs.items():
        runs_on = job.get("runs-on")
        if runs_on is None or (isinstance(runs_on, str) and GITHUB_HOSTED.match(runs_on)):
            continue  # a reusable workflow call, or a GitHub-hosted runner
        if SAME_REPO not in " ".join(str(job.get("if", "")).split()) and "environment" not in job:
            problems.append(f"job {job_id} may run a fork's code on {runs_on!r}")
    return problems


def kit_actions_without_kit_checkout(file: YamlFile) -> list[str]:
    """Local actions a reusable workflow would resolve in its caller's repository."""
    problems = []
    for job_id, job in file.jobs.items():
        checked_out = False
        for step in job.get("steps") or []:
            uses, options = str(step.get("uses", "")), step.get("with") or {}
            if uses.startswith("actions/checkout@") and options.get("path") == KIT_CHECKOUT:
                repository, ref = str(options.get("repository")), str(options.get("ref"))
                checked_out = repository.startswith("${{ job.workflow_repository") and (
                    ref.startswith("${{ job.workflow_sha")
                )
            if not uses.startswith("./"):
                continue
            if not uses.startswith(f"./{KIT_CHECKOUT}/actions/"):
                problems.append(f"job {job_id}: {uses} resolves in the caller's repository")
            elif not checked_out:
                problems.append(f"job {job_id}: {uses} before the kit's checkout at its commit")
    return problems
