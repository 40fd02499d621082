"""The kit's workflow and action files, loaded once, for the contract tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from tests.paths import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github/workflows"
ACTIONS = REPO_ROOT / "actions"
CONSUMER = REPO_ROOT / "examples/consumer"
# The name other repositories call the kit by (docs/adopting.md).
KIT_REPOSITORY = "runwright/runwright"
KIT_CHECKOUT = ".runwright-kit"
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)\s*(?:#\s*(?P<comment>.*))?$")


@dataclass(frozen=True)
class YamlFile:
    path: Path
    data: dict
    text: str

    @property
    def name(self) -> str:
        return (
            str(self.path.relative_to(REPO_ROOT))
            if self.path.is_relative_to(REPO_ROOT)
            else str(self.path)
        )

    @property
    def triggers(self) -> dict:
        # PyYAML reads the key `on` as the boolean True (YAML 1.1).
        on = self.data.get("on", self.data.get(True)) or {}
        if isinstance(on, str):
            return {on: None}
        return dict.fromkeys(on) if isinstance(on, list) else on

    @property
    def reusable(self) -> bool:
        return "workflow_call" in self.triggers

    @property
    def jobs(self) -> dict[str, dict]:
        return self.data.get("jobs") or {}

    def uses_lines(self) -> list[tuple[str, str | None]]:
        """(reference, trailing comment) for every `uses:` line, comments included."""
        found = []
        for line in self.text.splitlines():
            match = USES.match(line)
            if match:
                found.append((match["ref"].strip("'\""), match["comment"]))
        return found


def load(path: Path) -> YamlFile:
    return parse(path, path.read_text(encoding="utf-8"))


def parse(path: Path, text: str) -> YamlFile:
    return YamlFile(path, yaml.safe_load(text), text)


@cache
def workflows() -> tuple[YamlFile, ...]:
    consumer = CONSUMER / ".github/workflows"
    paths = sorted(WORKFLOWS.glob("*.yml")) + sorted(consumer.glob("*.yml"))
    return tuple(load(path) for path in paths)


@cache
def kit_workflows() -> tuple[YamlFile, ...]:
    return tuple(w for w in workflows() if w.path.parent == WORKFLOWS)


@cache
def actions() -> dict[str, YamlFile]:
    return {path.parent.name: load(path) for path in sorted(ACTIONS.glob("*/action.yml"))}


def output_values(action: str, output: str) -> set[str] | None:
    """The values actions/<action>'s `output` is documented to take, or None where its
    description names no fixed set: each value in backquotes (`drift`, `no drift`), true and false
    for "(true or false)", and the empty string where the description says when it is empty."""
    description = " ".join(actions()[action].data["outputs"][output]["description"].split())
    values = set(re.findall(r"`([^`]*)`", description))
    if "(true or false)" in description:
        values |= {"true", "false"}
    if values and "empty" in description:
        values.add("")
    return values or None


def all_files() -> tuple[YamlFile, ...]:
    return (*workflows(), *actions().values())


def steps_of(file: YamlFile) -> list[tuple[str, dict]]:
    """(where, step) for every step of a workflow's jobs or of a composite action."""
    if "runs" in file.data:
        return [(f"{file.name} step {i}", s) for i, s in enumerate(file.data["runs"]["steps"])]
    return [
        (f"{file.name} job {job_id} step {i}", step)
        for job_id, job in file.jobs.items()
        for i, step in enumerate(job.get("steps") or [])
    ]


def local_action(reference: str) -> str | None:
    """The kit action a local `uses:` names, for `./actions/x` and `./.runwright-kit/actions/x`."""
    for prefix in ("./actions/", f"./{KIT_CHECKOUT}/actions/"):
        if reference.startswith(prefix):
            return reference.removeprefix(prefix).strip("/")
    return None
