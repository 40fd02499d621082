"""The drift alert against the fake GitHub API (tests/fake_github.py): one issue, updated by each
run that finds drift, and at most one retraining dispatch per issue every
monitor.retrain_every_hours; closing the issue makes the next drift dispatch at once. A
dispatch GitHub refuses is not recorded, so the next run tries again."""

from __future__ import annotations

import datetime

import pytest

from ml.config import ParamsError, parse_params
from ml.monitor.alert import alert

START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.UTC)
SECTION = {"drifted_columns": ["a", "b"], "columns": ["a", "b", "c"], "markdown": "Drift.\n"}


def params(**monitor: object):
    return parse_params({"monitor": {"retrain_workflow": "retrain.yml"} | monitor})


def at(hours: float) -> datetime.datetime:
    return START + datetime.timedelta(hours=hours)


def test_persistent_drift_dispatches_once_per_interval_while_the_issue_is_open(fake_github):
    fake_github.declare_workflow("retrain.yml")
    settings = params(retrain_every_hours=6)

    first = alert(SECTION, settings, "digits", now=at(0))
    later = [alert(SECTION, settings, "digits", now=at(hours)) for hours in (0.5, 5.9)]
    due = alert(SECTION, settings, "digits", now=at(6))

    assert first == {
        "issue": 1,
        "issue_action": "opened",
        "dispatched": "retrain.yml",
        "retrain": "dispatched retrain.yml on main",
    }
    assert [result["dispatched"] for result in later] == [None, None]
    assert later[-1]["issue_action"] == "updated"
    assert later[-1]["retrain"] == (
        "not dispatched: retrain.yml was dispatched for this issue at 2026-03-02 09:00 UTC; "
        "again from 2026-03-02 15:00 UTC (monitor.retrain_every_hours), or once the issue "
        "is closed"
    )
    assert due["dispatched"] == "retrain.yml" and due["issue"] == 1
    assert len(fake_github.dispatches) == 2 and list(fake_github.issues) == [1]
    body = fake_github.issues[1]["body"]
    assert "was dispatched on `main` at 2026-03-02 15:00 UTC" in body
    assert "<!-- runwright-retrain-dispatched 2026-03-02T15:00:00+00:00 -->" in body


def test_closing_the_issue_lets_the_next_drift_dispatch_at_once(fake_github):
    fake_github.declare_workflow("retrain.yml")
    alert(SECTION, params(), "digits", now=at(0))
    fake_github.issues[1]["state"] = "closed"

    again = alert(SECTION, params(), "digits", now=at(1))

    assert again["issue_action"] == "opened" and again["dispatched"] == "retrain.yml"
    assert len(fake_github.dispatches) == 2 and len(fake_github.issues) == 2


def test_a_refused_dispatch_is_not_recorded_and_is_tried_again(fake_github):
    fake_github.declare_workflow("retrain.yml", {"model": {"required": True}})

    refused = alert(SECTION, params(), "digits", now=at(0))

    assert refused["dispatched"] is None
    assert refused["retrain"] == "GitHub refused to dispatch retrain.yml on main; see the log"
    assert "runwright-retrain-dispatched" not in fake_github.issues[1]["body"]
    fake_github.declare_workflow("retrain.yml")  # the workflow no longer requires the input
    assert alert(SECTION, params(), "digits", now=at(0.5))["dispatched"] == "retrain.yml"


def test_without_a_retrain_workflow_only_the_issue_is_kept(fake_github):
    result = alert(SECTION, parse_params({}), "digits", now=at(0))
    assert result == {"issue": 1, "issue_action": "opened"}
    assert fake_github.dispatches == [] and fake_github.count("POST") == 1


@pytest.mark.parametrize("hours", [0, -1, "daily"])
def test_retrain_every_hours_must_be_a_positive_number(hours):
    with pytest.raises(ParamsError, match=r"monitor\.retrain_every_hours"):
        params(retrain_every_hours=hours)
