"""Where a deployment's state lives (deployment.json, the served files, the supervisor's record,
the registry's downloads) when no --state-dir names it.

Outside Actions: .deploy in the working directory. In a workflow job the working directory is
the checkout, which the next job's checkout cleans (`git clean -ffdx`), taking with it the served
model and the record of the running service: the next release would start a second service
beside an orphan, and the monitor would find nothing deployed. There the state lives in the
runner's tool cache, which outlives jobs, one folder per repository."""

from __future__ import annotations

import os
from pathlib import Path

from ml import options


def default_state_dir() -> Path:
    tool_cache = os.environ.get("RUNNER_TOOL_CACHE")
    repository = os.environ.get("GITHUB_REPOSITORY")
    if os.environ.get("GITHUB_ACTIONS") != "true" or not tool_cache or not repository:
        return options.STATE_DIR
    return Path(tool_cache) / "runwright" / repository / "deploy"
