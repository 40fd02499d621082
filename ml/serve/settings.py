"""What one service process needs to know, passed from `ml serve` to every uvicorn worker."""

from __future__ import annotations

import dataclasses
import json
import os

# uvicorn starts workers as fresh interpreters; they inherit the environment, so the settings
# travel there as JSON.
ENVIRONMENT_KEY = "RUNWRIGHT_SERVE_SETTINGS"


# No defaults here: `ml serve` fills every field from ServeParams, the one home of the serving
# defaults (ml/config.py).
@dataclasses.dataclass(frozen=True)
class Settings:
    model_path: str
    model_name: str
    threads_per_worker: int
    max_batch_rows: int
    max_body_bytes: int
    reload_interval_seconds: float
    # Every Nth predicted row goes to <sample_dir>/inputs-<pid>.jsonl for the drift monitor.
    sample_dir: str | None
    sample_every: int
    sample_max_bytes: int

    def to_environment(self) -> None:
        os.environ[ENVIRONMENT_KEY] = json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_environment(cls) -> Settings:
        raw = os.environ.get(ENVIRONMENT_KEY)
        if not raw:
            raise RuntimeError(f"{ENVIRONMENT_KEY} is not set: start the service with `ml serve`")
        return cls(**json.loads(raw))
