"""The deploy sequence: register -> deploy -> smoke test -> promote, or roll back.

Aliases in the MLflow registry follow what happens: `challenger` names the version being
deployed; a version that passes becomes `champion`; a version that fails is tagged
`deploy.status=rolled back`, `challenger` moves back to the previous champion, and that version
is deployed again (and checked) from its registered file."""

from __future__ import annotations

from pathlib import Path

from ml.config import Params
from ml.deploy.registry import CHALLENGER, CHAMPION, Registry, RegistryError
from ml.deploy.report import DeployReport
from ml.deploy.smoke import SmokeTestFailed, smoke_test
from ml.errors import UserError


def deploy(
    model_path: Path,
    metadata: dict,
    params: Params,
    target,
    registry: Registry,
    report: DeployReport,
    run_id: str | None,
) -> None:
    previous = registry.alias(CHAMPION)
    tags = {
        "git_commit": str(metadata.get("git_commit")),
        "params_hash": str(metadata.get("params_hash")),
        "target": target.name,
    }
    candidate = registry.register(model_path, run_id, tags)
    registry.set_alias(CHALLENGER, candidate.version)
    report.version, report.champion = candidate.version, previous
    report.step(
        "register",
        True,
        f"version {candidate.version} (sha256 {candidate.short_sha}) is the challenger; "
        f"champion: version {previous or 'none'}",
    )
    if not deploy_and_check(candidate, params, target, registry.name, report, "deploy"):
        registry.tag(candidate.version, "deploy.status", "rolled back")
        rollback(previous, params, target, registry, report)
        return
    if report.status == "rendered":
        return
    registry.set_alias(CHAMPION, candidate.version)
    registry.tag(candidate.version, "deploy.status", "champion")
    report.status, report.champion = "promoted", candidate.version
    report.step("promote", True, f"champion: version {previous or 'none'} → {candidate.version}")


def deploy_and_check(model, params: Params, target, name: str, report: DeployReport, step: str):
    """Deploy `model` and smoke-test it; False (with the failure in the report) if either fails."""
    settings = params.deploy.smoke
    try:
        url = target.deploy(model, settings.timeout_seconds)
    except UserError as exc:
        report.step(step, False, str(exc))
        return False
    if url is None:  # a manifest rendered for someone else to apply
        report.status = "rendered"
        report.step(step, None, target.describe())
        return True
    report.step(step, True, f"{url} serves version {model.version} (sha256 {model.short_sha})")
    try:
        checks = smoke_test(url, name, model.file, settings)
    except SmokeTestFailed as exc:
        report.step("smoke test", False, str(exc))
        return False
    report.step("smoke test", True, "; ".join(checks))
    report.url = url
    return True


def rollback(previous: str | None, params: Params, target, registry, report) -> None:
    if previous is None:
        registry.delete_alias(CHALLENGER)
        target.stop()
        report.status = "failed"
        report.step(
            "roll back", False, "no previous champion to return to: the service is stopped"
        )
        return
    registry.set_alias(CHALLENGER, previous)
    try:
        model = registry.fetch(previous)
    except RegistryError as exc:
        report.status = "failed"
        report.step("roll back", False, str(exc))
        return
    if deploy_and_check(model, params, target, registry.name, report, "roll back"):
        report.status = "rolled back"
    else:
        report.status = "failed"
