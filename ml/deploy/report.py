"""The record of one deploy: every step with its outcome, logged as it happens, then written to
the job summary, the step outputs, <state-dir>/deployment.json and a comment on the merged pull
request(s) of GITHUB_SHA."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path

from ml.github import client as github_client
from ml.github import env as github_env
from ml.io import write_json

log = logging.getLogger("ml.deploy")

MARKER = "<!-- runwright-deploy -->"
ICONS = {True: "✅", False: "❌", None: "⏸️"}
STATUSES = ("promoted", "rolled back", "failed", "rendered")  # how a deploy ends: `status` output


@dataclasses.dataclass
class Step:
    name: str
    ok: bool | None
    detail: str


@dataclasses.dataclass
class DeployReport:
    model_name: str
    target: str
    steps: list[Step] = dataclasses.field(default_factory=list)
    status: str = "running"  # then one of STATUSES
    version: str | None = None
    champion: str | None = None
    url: str | None = None

    def step(self, name: str, ok: bool | None, detail: str) -> None:
        self.steps.append(Step(name, ok, detail))
        (log.info if ok is not False else log.error)("%s: %s", name, detail)

    def markdown(self) -> str:
        icon = {"promoted": "✅", "rendered": "⏸️"}.get(self.status, "❌")
        lines = [
            f"## {icon} Deploy of {self.model_name} version {self.version or '?'} to "
            f"{self.target}: {self.status}",
            "",
            f"Champion: version {self.champion or 'none'}"
            + (f", serving at {self.url}" if self.url else ""),
            "",
            "| step | result | details |",
            "|---|---|---|",
        ]
        for step in self.steps:
            detail = step.detail.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {step.name} | {ICONS[step.ok]} | {detail} |")
        return "\n".join(lines) + "\n\n" + MARKER + "\n"

    def publish(self, state_dir: Path) -> None:
        markdown = self.markdown()
        github_env.append_step_summary(markdown)
        github_env.write_outputs(
            {
                "status": self.status,
                "version": self.version,
                "champion": self.champion,
                "url": self.url,
            }
        )
        write_json(state_dir / "deployment.json", self.record())
        sha = os.environ.get("GITHUB_SHA")
        if not sha:
            return
        if not github_client.configured():
            if os.environ.get("GITHUB_ACTIONS") == "true":  # in a workflow the comment is expected
                log.warning(
                    "Not commenting on the pull request of %s: GITHUB_REPOSITORY and GITHUB_TOKEN "
                    "must be set (the deploy action passes the job's token; the job needs "
                    "pull-requests: write)",
                    sha[:12],
                )
            return
        try:
            numbers = github_client.comment_on_pulls_of(sha, markdown)
        except Exception as exc:  # a failed comment never fails a deploy
            log.warning("Could not comment on the pull request of %s: %s", sha, exc)
        else:
            log.info("Commented on pull request(s) %s", numbers or "none found")

    def record(self) -> dict:
        return {
            "model_name": self.model_name,
            "target": self.target,
            "status": self.status,
            "version": self.version,
            "champion": self.champion,
            "url": self.url,
            "finished_at": time.time(),
            "steps": [dataclasses.asdict(step) for step in self.steps],
        }
