"""The params file a deployed service runs with: its `serve` section, written into the
deployment's state folder, so that a restart never depends on the checkout it was deployed from
(a job's next checkout removes the workspace's params.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ml.config import ServeParams
from ml.io import write_text


def write(path: Path, serve: ServeParams) -> bool:
    """Write `serve` to `path` in one rename; whether the file changed."""
    text = yaml.safe_dump({"serve": serve.model_dump()}, sort_keys=False)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    write_text(path, text)
    return True
