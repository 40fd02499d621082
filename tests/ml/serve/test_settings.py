"""The service's settings travel from `ml serve` to every worker through one environment
variable, as JSON."""

from __future__ import annotations

import pytest

from ml.serve.settings import ENVIRONMENT_KEY, Settings

SETTINGS = Settings(
    model_path="/srv/model.onnx",
    model_name="digits",
    threads_per_worker=2,
    max_batch_rows=64,
    max_body_bytes=1 << 20,
    reload_interval_seconds=0.5,
    sample_dir=None,
    sample_every=0,
    sample_max_bytes=1024,
)


def test_a_worker_reads_back_exactly_what_the_parent_set(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT_KEY, raising=False)
    SETTINGS.to_environment()
    assert Settings.from_environment() == SETTINGS


@pytest.mark.parametrize("value", [None, ""])
def test_a_worker_started_without_ml_serve_says_how_to_start_it(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(ENVIRONMENT_KEY, raising=False)
    else:
        monkeypatch.setenv(ENVIRONMENT_KEY, value)
    with pytest.raises(RuntimeError, match="start the service with `ml serve`"):
        Settings.from_environment()
