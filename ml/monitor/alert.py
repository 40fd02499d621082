"""On drift: one GitHub issue, updated by every monitor run that still finds drift, and a
retraining dispatch, at most one per issue every monitor.retrain_every_hours.

The scheduled monitor runs every 30 minutes, and drift persists until a retrained model serves:
dispatching on every run would start a retraining each half hour. So the issue records when
retraining was dispatched for it (a line, and a hidden marker with the time); a later run
dispatches again only once that is monitor.retrain_every_hours ago, or when the issue was closed
(the next drift opens a new issue, which has had no dispatch)."""

from __future__ import annotations

import datetime
import logging
import re

from ml.config import Params
from ml.github import client as github_client

log = logging.getLogger("ml.monitor")

DISPATCHED = re.compile(r"<!-- runwright-retrain-dispatched (\S+) -->")


def alert(section: dict, params: Params, name: str, now: datetime.datetime | None = None) -> dict:
    """Open or update the drift issue and dispatch retraining when due, where GitHub is
    configured. What was done: issue, issue_action, and with monitor.retrain_workflow set,
    dispatched (the workflow, or None) and retrain (why, in a sentence)."""
    settings = params.monitor
    if not github_client.configured():
        return {"issue": "not opened: GITHUB_REPOSITORY and GITHUB_TOKEN are not set"}
    now = now or datetime.datetime.now(datetime.UTC)
    marker = f"runwright-drift {name}"
    count, total = len(section["drifted_columns"]), len(section["columns"])
    title = f"Input drift on {name}: {count} of {total} input columns shifted"
    body = section["markdown"] + "\nReported by `ml monitor`; this issue is updated, not repeated."
    result: dict = {}
    if settings.retrain_workflow:
        last = last_dispatch(github_client.marked_issue_body(marker, settings.issue_label))
        last, result["dispatched"], result["retrain"] = retrain(params, last, now)
        log.info("Retraining: %s", result["retrain"])
        if last is not None:
            body += "\n\n" + dispatch_record(params, last)
    number, action = github_client.upsert_issue(marker, title, body, settings.issue_label)
    log.info("Drift issue #%d %s", number, action)
    return {"issue": number, "issue_action": action} | result


def retrain(params: Params, last: datetime.datetime | None, now: datetime.datetime):
    """Dispatch the retraining workflow unless it was dispatched for this issue less than
    monitor.retrain_every_hours ago: (time of the last dispatch, workflow dispatched now or
    None, what happened)."""
    settings = params.monitor
    workflow, ref = settings.retrain_workflow, settings.retrain_ref
    assert workflow is not None  # checked by the caller
    if last is not None and now < (due := last + every(params)):
        return (
            last,
            None,
            (
                f"not dispatched: {workflow} was dispatched for this issue at {stamp(last)}; "
                f"again from {stamp(due)} (monitor.retrain_every_hours), or once the issue "
                "is closed"
            ),
        )
    # No inputs: GitHub refuses (422) a dispatch with an input the workflow does not declare,
    # and the kit's retrain.yml has no `reason` input. The drift issue says why.
    if not github_client.dispatch_workflow(workflow, ref, {}):
        return last, None, f"GitHub refused to dispatch {workflow} on {ref}; see the log"
    return now, workflow, f"dispatched {workflow} on {ref}"


def last_dispatch(body: str | None) -> datetime.datetime | None:
    """When retraining was last dispatched for the issue with this body (None: never)."""
    found = DISPATCHED.search(body or "")
    if found is None:
        return None
    try:
        return datetime.datetime.fromisoformat(found.group(1))
    except ValueError:  # the marker edited by hand: as if never dispatched
        return None


def dispatch_record(params: Params, last: datetime.datetime) -> str:
    settings = params.monitor
    return (
        f"Retraining: `{settings.retrain_workflow}` was dispatched on `{settings.retrain_ref}` "
        f"at {stamp(last)}. While this issue stays open, drift dispatches it again from "
        f"{stamp(last + every(params))} (`monitor.retrain_every_hours`); closing the issue lets "
        "the next drift dispatch it at once.\n"
        f"<!-- runwright-retrain-dispatched {last.isoformat(timespec='seconds')} -->"
    )


def every(params: Params) -> datetime.timedelta:
    return datetime.timedelta(hours=params.monitor.retrain_every_hours)


def stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
