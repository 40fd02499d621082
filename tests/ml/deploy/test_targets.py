"""Deploy targets by name, as `ml deploy` and `ml monitor` (from deployment.json) ask for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.config import parse_params
from ml.deploy import targets
from ml.errors import UserError

PARAMS = parse_params({"serve": {"model_name": "digits"}})


@pytest.mark.parametrize("name", ["local", "docker", "kserve"])
def test_each_target_keeps_its_state_under_its_own_name(name, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the docker target builds from the working directory
    target = targets.make(name, tmp_path / ".deploy", PARAMS)
    assert target.name == name
    assert target.dir == (tmp_path / ".deploy" / name).resolve()


def test_an_unknown_target_names_the_choices(tmp_path: Path):
    with pytest.raises(UserError, match="unknown deploy target 'nomad': choose local, docker or"):
        targets.make("nomad", tmp_path, PARAMS)
