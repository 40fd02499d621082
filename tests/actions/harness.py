"""Run a composite action's own `run:` steps in bash, the way the Actions runner would.

Each step gets its `env:` (expressions resolved from the inputs and a fake `github` context),
fresh GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, GITHUB_EVENT_PATH, GITHUB_PATH handling and
the runner's bash flags (`-e -o pipefail`). Steps that `uses:` a third-party action are not run
(nothing here can fetch them); they are listed in `skipped` so a test can say what it did not
cover. A construct the harness does not understand fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.actions.expressions import as_string, condition, context_lookup, substitute
from tests.helpers import read_outputs
from tests.paths import REPO_ROOT

ACTIONS = REPO_ROOT / "actions"
STEP_TIMEOUT_S = 600


@dataclass
class ActionResult:
    outputs: dict[str, str]
    steps: dict[str, dict[str, str]]
    summary: str
    skipped: list[str]
    log: str
    failed: bool


@dataclass
class Runner:
    """What the runner provides: working directory, base environment, context, temp space."""

    cwd: Path
    env: dict[str, str]
    temp: Path
    github: dict = field(default_factory=dict)
    event: dict = field(default_factory=dict)


def load(name: str) -> dict:
    return yaml.safe_load((ACTIONS / name / "action.yml").read_text(encoding="utf-8"))


def resolve_inputs(action: dict, given: dict[str, str], github: dict) -> dict[str, str]:
    declared = action.get("inputs") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f"inputs not declared by the action: {', '.join(unknown)}")
    lookup = context_lookup({"github": github})
    resolved = {}
    for name, spec in declared.items():
        if name in given:
            resolved[name] = str(given[name])
        elif spec.get("required") and "default" not in spec:
            raise ValueError(f"required input {name!r} not given")
        else:
            resolved[name] = substitute(str(spec.get("default", "")), lookup)
    return resolved


def deprecation_warnings(action: dict, given: dict[str, str]) -> list[str]:
    """The runner's warning for each given input that the action declares deprecated."""
    declared = action.get("inputs") or {}
    return [
        f"##[warning]Input '{name}' has been deprecated with message: {message}"
        for name in given
        if (message := declared[name].get("deprecationMessage"))
    ]


def step_environment(runner: Runner, name: str, number: int, extra_path: list[str]) -> dict:
    files = runner.temp / f"{name}-step{number}"
    files.mkdir(parents=True, exist_ok=True)
    for kind in ("output", "summary", "path", "env"):
        (files / kind).write_text("")
    event = runner.temp / "event.json"
    event.write_text(json.dumps(runner.event))
    env = dict(runner.env)
    env["PATH"] = os.pathsep.join([*extra_path, env["PATH"]])
    env |= {
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ACTIONS / name),
        "GITHUB_OUTPUT": str(files / "output"),
        "GITHUB_STEP_SUMMARY": str(files / "summary"),
        "GITHUB_PATH": str(files / "path"),
        "GITHUB_ENV": str(files / "env"),
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_WORKSPACE": str(runner.cwd),
        "RUNNER_TEMP": str(runner.temp),
    }
    return env


@dataclass
class Job:
    """What one action run accumulates from step to step, as the runner keeps it."""

    name: str
    runner: Runner
    contexts: dict
    status: str = "success"
    skipped: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    extra_path: list[str] = field(default_factory=list)  # from GITHUB_PATH
    extra_env: dict[str, str] = field(default_factory=dict)  # from GITHUB_ENV

    @property
    def lookup(self):
        return context_lookup(self.contexts)


def run_action(name: str, inputs: dict[str, str], runner: Runner) -> ActionResult:
    """Run actions/<name>'s steps; never raises for a failing step (see `failed`)."""
    action = load(name)
    if action["runs"]["using"] != "composite":
        raise ValueError(f"{name}: only composite actions can be run here")
    contexts = {
        "inputs": resolve_inputs(action, inputs, runner.github),
        "github": runner.github,
        "env": dict(runner.env),
        "steps": {},
    }
    job = Job(name, runner, contexts)
    job.log += deprecation_warnings(action, inputs)
    for number, step in enumerate(action["runs"]["steps"], start=1):
        step_id = step.get("id", f"step{number}")
        contexts["steps"][step_id] = {"outputs": {}, "outcome": "skipped"}
        label = step.get("name") or step.get("uses") or step_id
        if not condition(str(step.get("if", "true")), job.lookup, job.status):
            job.skipped.append(f"{label} (if: {step.get('if')})")
        elif "uses" in step:
            if str(step["uses"]).startswith("./"):
                raise ValueError(f"{name}: local action {step['uses']} cannot be run here")
            job.skipped.append(f"{step['uses']} (third-party action, not run by the harness)")
        else:
            contexts["steps"][step_id] = run_step(job, step, number, label)
    outputs = {
        key: as_string(substitute(str(spec["value"]), job.lookup))
        for key, spec in (action.get("outputs") or {}).items()
    }
    steps = {key: value["outputs"] for key, value in contexts["steps"].items()}
    summary, log = "".join(job.summary), "\n".join(job.log)
    return ActionResult(outputs, steps, summary, job.skipped, log, job.status != "success")


def run_step(job: Job, step: dict, number: int, label: str) -> dict:
    """One `run:` step in bash, with `-e -o pipefail` as the runner's bash shell uses."""
    if step.get("shell") != "bash":
        raise ValueError(f"{job.name} step {number}: shell must be bash, not {step.get('shell')}")
    if "${{" in step["run"]:
        raise ValueError(f"{job.name} step {number}: an expression inside run:")
    env = step_environment(job.runner, job.name, number, job.extra_path) | job.extra_env
    declared = step.get("env") or {}
    env |= {key: substitute(str(value), job.lookup) for key, value in declared.items()}
    script = job.runner.temp / f"{job.name}-step{number}.sh"
    script.write_text(step["run"])
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=job.runner.cwd / step.get("working-directory", "."),
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
    )
    job.log.append(f"--- {label} (exit {result.returncode})\n{result.stdout}{result.stderr}")
    files = Path(env["GITHUB_OUTPUT"]).parent
    job.summary.append((files / "summary").read_text())
    job.extra_path = (files / "path").read_text().split() + job.extra_path
    job.extra_env |= read_outputs(files / "env")  # GITHUB_ENV has the same two forms
    if result.returncode != 0:
        job.status = "failure"
    outcome = "success" if result.returncode == 0 else "failure"
    return {"outputs": read_outputs(files / "output"), "outcome": outcome}
