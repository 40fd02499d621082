"""One monitoring pass: health (and restore), drift, alerts (ml/monitor/alert.py), report."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ml.config import Params
from ml.errors import UserError
from ml.github import env as github_env
from ml.io import write_json, write_text
from ml.monitor import drift
from ml.monitor.alert import alert
from ml.monitor.probe import probe
from ml.monitor.restore import restore

log = logging.getLogger("ml.monitor")

# How the drift check ended: the `drift` step output and report["drift"]["status"].
DRIFT, NO_DRIFT, TOO_FEW_SAMPLES, SKIPPED = "drift", "no drift", "too few samples", "skipped"
DRIFT_STATUSES = (DRIFT, NO_DRIFT, TOO_FEW_SAMPLES, SKIPPED)
# Whether there was a deployment to check: the `status` step output.
CHECKED, NOTHING_DEPLOYED = "checked", "nothing deployed"


def monitor_once(
    params: Params,
    params_path: Path,
    state_dir: Path,
    deployment: dict,
    url: str | None,
    samples: Path | None,
) -> dict:
    from ml.deploy import targets

    target = targets.make(deployment["target"], state_dir, params)
    name, settings = params.serve.model_name, params.monitor
    url = url or deployment.get("url") or getattr(target, "url", None)
    if not url:
        raise UserError("no service address: pass --url (or set deploy.kserve.url)")
    report = {"time": time.time(), "model": name, "target": target.name, "url": url}
    health = probe(url, name, settings.probe_attempts, settings.probe_timeout_seconds)
    report |= {"probe": health.detail, "actions": [], "healthy": health.ok}
    log.info("Probe: %s", health.detail)
    if not health.ok and settings.restore:
        try:
            report["actions"] = restore(target, params, state_dir, url)
        except UserError as exc:
            report["actions"].append(f"could not restore: {exc}")
        report["healthy"] = probe(
            url, name, settings.probe_attempts, settings.probe_timeout_seconds
        ).ok
        for action in report["actions"]:
            log.info("Restore: %s", action)
    report["drift"] = drift_section(target, samples, params)
    if report["drift"].get("drifted"):
        report["alerts"] = alert(report["drift"], params, name)
    publish(report, state_dir / "monitor")
    return report


def drift_section(target, samples: Path | None, params: Params) -> dict:
    from ml.serve.model import ModelLoadError, load

    model_file = getattr(target, "model_file", None)
    samples = samples or getattr(target, "samples", None)
    if model_file is None or samples is None:
        return {"status": SKIPPED, "detail": f"the {target.name} target keeps no samples here"}
    try:
        model = load(model_file)
    except ModelLoadError as exc:
        return {"status": SKIPPED, "detail": str(exc)}
    stats = model.metadata.get("reference")
    if not stats:
        return {
            "status": SKIPPED,
            "detail": "the model has no reference statistics; re-export it",
        }
    rows = drift.load_samples(samples, model.version, params.monitor.window_rows, stats)
    result = drift.compare(stats, rows, params.monitor)
    status = (DRIFT if result.drifted else NO_DRIFT) if result.enough else TOO_FEW_SAMPLES
    log.info("Drift: %s over %d sampled rows", status, result.rows)
    return {
        "status": status,
        "drifted": result.drifted,
        "version": model.version,
        "rows": result.rows,
        "drifted_columns": [c["name"] for c in result.drifted_columns],
        "columns": result.columns,
        "markdown": drift.markdown(result, params.monitor, params.serve.model_name, model.version),
    }


def publish(report: dict, directory: Path) -> None:
    status = "up" if report["healthy"] else "DOWN"
    lines = [f"## Monitor of {report['model']} ({report['target']}): service {status}", ""]
    lines += [f"- probe: {report['probe']}"] + [f"- {action}" for action in report["actions"]]
    drift_report = report["drift"]
    lines += ["", drift_report.get("markdown") or f"Drift: {drift_report['detail']}"]
    alerts = report.get("alerts", {})
    if "issue" in alerts:
        lines.append(f"Issue: {alerts['issue']} ({alerts.get('issue_action', '')})")
    if "retrain" in alerts:
        lines.append(f"Retraining: {alerts['retrain']}")
    markdown = "\n".join(lines).rstrip() + "\n"
    write_json(directory / "report.json", report)
    write_text(directory / "report.md", markdown)
    github_env.append_step_summary(markdown)
    github_env.write_outputs(
        {
            "status": CHECKED,
            "healthy": str(report["healthy"]).lower(),
            "drift": drift_report["status"],
            "issue": alerts.get("issue"),
        }
    )


def report_nothing_deployed(state_dir: Path) -> None:
    """No deployment recorded where the monitor looks by default: say so, check nothing."""
    record = state_dir / "deployment.json"
    log.info("Nothing deployed: %s does not exist; nothing to check", record)
    github_env.append_step_summary(
        "## Monitor: nothing deployed\n\n"
        f"No deployment is recorded in `{record}` on this runner, so there is no service to "
        "probe and no sampled input to check for drift. Run the monitor on the machine that "
        "runs the service (the runner `ml deploy` ran on), or name the deployment with "
        "`--state-dir` (then a missing record fails the run).\n"
    )
    github_env.write_outputs({"status": NOTHING_DEPLOYED, "healthy": None, "drift": None})
