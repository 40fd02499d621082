"""The stand-ins act uses for third-party actions: one for every action the kit pins, declaring
every input the kit passes it, so a newly pinned action or input cannot slip past the act tests
unnoticed (act offline cannot download the real ones)."""

from __future__ import annotations

import re

import yaml

from tests.paths import REPO_ROOT
from tests.workflows.act.runner import STANDIN_FOR, STANDINS, WORKFLOWS, pinned_actions

USES = re.compile(r"^([\w.-]+/[\w.-]+)(/[\w./-]+)?@[0-9a-f]{40}$")


def steps_using_third_party():
    files = [*WORKFLOWS.glob("*.yml"), *(REPO_ROOT / "actions").glob("*/action.yml")]
    for path in files:
        document = yaml.safe_load(path.read_text())
        jobs = document.get("jobs", {}).values() if "jobs" in document else [document["runs"]]
        for job in jobs:
            for step in job.get("steps", []):
                match = USES.match(step.get("uses", ""))
                if match:
                    yield path, match[1], (match[2] or "").strip("/"), step.get("with", {})


def test_every_pinned_action_has_a_stand_in():
    pins = pinned_actions()
    assert set(pins) == set(STANDIN_FOR), "pinned actions and stand-ins differ"


def test_every_input_the_kit_passes_is_declared_by_the_stand_in():
    seen = 0
    for path, name, subpath, given in steps_using_third_party():
        action = STANDINS / STANDIN_FOR[name] / subpath / "action.yml"
        assert action.exists(), f"{path}: no stand-in {action}"
        declared = yaml.safe_load(action.read_text()).get("inputs", {})
        missing = set(given) - set(declared)
        assert not missing, f"{path}: {name} stand-in lacks inputs {sorted(missing)}"
        seen += 1
    assert seen >= 20  # the workflows' checkouts alone are more
