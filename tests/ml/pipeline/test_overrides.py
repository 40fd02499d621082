"""Overrides from the retrain form: parsed as YAML, checked against the params schema, turned into
`dvc exp run -S` arguments that DVC reads back to the same values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ml.config import TrainParams
from ml.pipeline import overrides
from ml.pipeline.overrides import OverrideError
from tests.conftest import tiny_params, tool_env
from tests.helpers import run


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(tiny_params(), sort_keys=False), encoding="utf-8")
    return path


def test_values_are_yaml_typed() -> None:
    parsed = overrides.parse_pairs(
        "train.epochs=3 train.learning_rate=1e-3 'train.cnn.filters=[16, 32]'\ntrain.model=mlp"
    )
    assert parsed == {
        "train.epochs": 3,
        "train.learning_rate": 0.001,
        "train.cnn.filters": [16, 32],
        "train.model": "mlp",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("train.epochs", "is not key=value"),
        ("=3", "is not key=value"),
        ("Train.Epochs=3", "is not key=value"),
        ("train.epochs=3 train.epochs=4", "train.epochs is given twice"),
        ("train.cnn.filters=[16,", "is not a YAML value"),
        ("train.model='mlp", "cannot split"),
    ],
)
def test_malformed_pairs_are_named(text: str, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        overrides.parse_pairs(text)


def test_typed_inputs_join_the_pairs_and_empty_ones_are_ignored() -> None:
    collected = overrides.collect("train.batch_size=16", epochs="5", learning_rate="", model=None)
    assert collected == {"train.batch_size": 16, "train.epochs": 5}


def test_a_key_set_by_a_typed_input_and_a_pair_is_refused() -> None:
    with pytest.raises(
        OverrideError, match=re.escape("train.epochs is set twice: by the epochs input")
    ):
        overrides.collect("train.epochs=3", epochs="4")


def test_unknown_key_is_rejected_with_a_suggestion(params_file: Path) -> None:
    with pytest.raises(OverrideError) as error:
        overrides.validate(params_file, {"train.learnig_rate": 0.1})
    message = str(error.value)
    assert "train.learnig_rate: unknown key. Did you mean 'learning_rate'?" in message
    assert "with the overrides is invalid" in message


def test_unknown_section_is_rejected(params_file: Path) -> None:
    with pytest.raises(
        OverrideError, match=re.escape("trian: unknown key. Did you mean 'train'?")
    ):
        overrides.validate(params_file, {"trian.epochs": 3})


def test_bad_value_is_rejected_naming_key_and_value(params_file: Path) -> None:
    with pytest.raises(OverrideError, match=r"train.epochs: .*greater than 0 \(got -1\)"):
        overrides.validate(params_file, {"train.epochs": -1})


def test_a_value_cannot_be_walked_into(params_file: Path) -> None:
    with pytest.raises(OverrideError, match=re.escape("train.epochs is a value, not a section")):
        overrides.validate(params_file, {"train.epochs.max": 3})


def test_valid_overrides_give_the_changed_params_and_leave_the_file(params_file: Path) -> None:
    before = params_file.read_text()
    params = overrides.validate(params_file, {"train.epochs": 7, "train.model": "mlp"})
    assert (params.train.epochs, params.train.model) == (7, "mlp")
    assert params_file.read_text() == before


def test_a_section_missing_from_the_file_can_be_set(params_file: Path) -> None:
    raw = yaml.safe_load(params_file.read_text())
    del raw["export"]
    params_file.write_text(yaml.safe_dump(raw))
    assert overrides.validate(params_file, {"export.latency_runs": 5}).export.latency_runs == 5


def test_an_empty_section_can_be_set(params_file: Path) -> None:
    params_file.write_text(params_file.read_text() + "serve:\n", encoding="utf-8")
    assert overrides.validate(params_file, {"serve.port": 9000}).serve.port == 9000


def test_a_whole_section_can_be_set_and_is_validated(params_file: Path) -> None:
    params = overrides.validate(params_file, {"train.cnn": {"filters": [8]}})
    assert params.train.cnn.filters == [8]
    with pytest.raises(OverrideError, match=r"train\.cnn\.filter: unknown key"):
        overrides.validate(params_file, {"train.cnn": {"filter": [8]}})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3, "3"),
        (0.001, "0.001"),
        (1e-05, "1e-05"),
        (True, "true"),
        (None, "null"),
        ("mlp", "mlp"),
        ("true", "'true'"),
        ("12", "'12'"),
        ("it's", "'it\\'s'"),
        ([16, 32], "[16,32]"),
        (["a b", 1], "['a b',1]"),
    ],
)
def test_hydra_values(value: object, text: str) -> None:
    assert overrides.hydra_value(value) == text


@pytest.mark.e2e
def test_dvc_reads_the_set_args_back_to_the_same_values(tmp_path: Path) -> None:
    # The real `dvc exp run -S` parser, on a one-line stage (nothing trains).
    env = tool_env(tmp_path)
    start = {"train": {"learning_rate": 0.1, "cnn": {"filters": [8]}, "model": "cnn"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(start))
    run(["git", "init", "-q"], tmp_path, env)
    run(["dvc", "init", "-q"], tmp_path, env)
    stage = ["dvc", "stage", "add", "-q", "-n", "copy", "-p", "train", "-o", "out.yaml"]
    run([*stage, "cp params.yaml out.yaml"], tmp_path, env)
    run(["git", "add", "-A"], tmp_path, env)
    run(["git", "commit", "-qm", "start"], tmp_path, env)
    changes = {"train.cnn.filters": [16, 32], "train.learning_rate": 1e-05, "train.model": "it's"}
    run(["dvc", "exp", "run", *overrides.set_args(changes)], tmp_path, env)
    train = yaml.safe_load((tmp_path / "out.yaml").read_text())["train"]
    assert train["cnn"] == {"filters": [16, 32]}
    assert train["model"] == "it's"
    # DVC writes `1e-05`, a float in YAML 1.2 that PyYAML (YAML 1.1) reads as a string; the
    # params models read it back as the float.
    assert TrainParams(learning_rate=train["learning_rate"]).learning_rate == 1e-05
