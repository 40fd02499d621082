"""Settings written back into params.yaml as a person would edit it: comments, key order and the
`[32, 64]` list style kept, missing sections added, and nothing written unless the result is
valid params."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.config import ParamsError
from ml.dotted import DottedKeyError
from ml.errors import UserError
from ml.tune import params_file

START = """\
# A deliberately weak start: a 4-unit network trained for one epoch.
train:
  model: mlp               # cnn (images) | mlp (tabular or images)
  epochs: 1
  learning_rate: 0.001
  mlp:
    units: [4]             # far too narrow
    dropout_rate: 0.2
gate:
  min_accuracy: 0.80
"""


def write(tmp_path: Path, text: str = START) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_overrides_keep_comments_order_and_list_style(tmp_path: Path) -> None:
    path = write(tmp_path)
    params_file.write_overrides(path, "train", {"mlp.units": [64, 32], "learning_rate": 0.004})
    before, after = START.splitlines(), path.read_text().splitlines()
    changed = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    assert changed == [
        ("  learning_rate: 0.001", "  learning_rate: 0.004"),
        # The comment keeps its column, as a person editing the file would leave it.
        (
            "    units: [4]             # far too narrow",
            "    units: [64, 32]        # far too narrow",
        ),
    ]


def test_write_overrides_returns_the_new_params(tmp_path: Path) -> None:
    params = params_file.write_overrides(write(tmp_path), "train", {"epochs": 7})
    assert params.train.epochs == 7 and params.train.mlp.units == [4]


def test_settings_left_to_their_defaults_are_added_in_new_sections(tmp_path: Path) -> None:
    path = write(tmp_path)
    params_file.write_overrides(path, "train", {"cnn.filters": [8, 16], "cnn.dense_units": 32})
    added = "  cnn:\n    filters: [8, 16]\n    dense_units: 32\n"
    # At the end of `train`; every other line as it was.
    assert path.read_text() == START.replace("gate:\n", added + "gate:\n")


def test_a_missing_or_empty_section_is_created() -> None:
    assert params_file.updated_text("", "train", {"epochs": 3}) == "train:\n  epochs: 3\n"
    text = "# keep me\ntrain:\nexport:\n  latency_runs: 5  # few\n"
    assert params_file.updated_text(text, "train", {"mlp.units": [8]}) == (
        "# keep me\ntrain:\n  mlp:\n    units: [8]\nexport:\n  latency_runs: 5  # few\n"
    )


def test_nothing_to_write_leaves_the_text_as_it_was() -> None:
    assert params_file.updated_text(START, "train", {}) == START


def test_long_lines_are_not_folded() -> None:
    text = "train:\n  model: mlp  # " + "a very long comment " * 10 + "\n"
    assert params_file.updated_text(text, "train", {"model": "cnn"}) == text.replace("mlp", "cnn")


def test_invalid_overrides_leave_the_file_untouched(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(ParamsError, match=r"train\.epochs"):
        params_file.write_overrides(path, "train", {"epochs": 0})
    assert path.read_text() == START


def test_a_key_through_a_value_is_named_and_nothing_written(tmp_path: Path) -> None:
    path = write(tmp_path)
    with pytest.raises(DottedKeyError, match=r"^train\.epochs\.max: train\.epochs is a value"):
        params_file.write_overrides(path, "train", {"epochs.max": 3})
    assert path.read_text() == START


def test_an_unreadable_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read params"):
        params_file.write_overrides(tmp_path / "missing.yaml", "train", {"epochs": 3})
