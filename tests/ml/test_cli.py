"""`ml` from the command line: user errors are one message and exit 1, no traceback; an option's
old spelling is a usage error (exit 2) that names the new one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ml import options
from ml.cli import app
from ml.config import BUILT_IN_MODELS, TrainParams
from tests.helpers import run_ml
from tests.paths import REPO_ROOT


def test_bad_params_exit_1_with_message_and_no_traceback(tmp_path: Path) -> None:
    # A real process: proves the exit status and stderr a workflow or `dvc repro` sees.
    (tmp_path / "bad.yaml").write_text("train:\n  epoch: 3\n", encoding="utf-8")
    result = run_ml("prepare", "--params", "bad.yaml", "--out", "prepared", cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.yaml is invalid" in result.stderr
    assert "train.epoch: unknown key. Did you mean 'epochs'?" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "prepared").exists()


def test_prepare_help(cli: CliRunner) -> None:
    result = cli.invoke(app, ["prepare", "--help"])
    assert result.exit_code == 0
    assert "--params" in result.output
    assert "--out" in result.output


def test_missing_params_file(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["prepare", "--params", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml: file not found" in result.stderr
    assert "Traceback" not in result.output


def test_bad_data_exit_1_and_nothing_written(cli: CliRunner, people, tmp_path: Path) -> None:
    ages = people["age"].astype(object)
    ages[3] = "old"
    people.assign(age=ages).to_csv(tmp_path / "people.csv", index=False)
    params = tmp_path / "params.yaml"
    params.write_text(
        f"prepare:\n"
        f"  source: {{path: {tmp_path / 'people.csv'}}}\n"
        f"  task: classification\n"
        f"  target: label\n"
        f"  numeric_features: [age]\n",
        encoding="utf-8",
    )
    out = tmp_path / "prepared"
    result = cli.invoke(app, ["prepare", "--params", str(params), "--out", str(out)])
    assert result.exit_code == 1
    # Row 3 is line 5 of the file: the header is line 1, rows count from 0.
    assert "column 'age': expected float64 values, found 'old' (lines 5)" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_good_params_exit_0_and_write_the_splits(cli: CliRunner, tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("prepare:\n  source: {bundled: iris}\n", encoding="utf-8")
    out = tmp_path / "prepared"
    result = cli.invoke(app, ["prepare", "--params", str(params), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "105 train / 22 validation / 23 test rows, 4 features" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "dataset.json",
        "test.npz",
        "train.npz",
        "validation.npz",
    ]


# --- one spelling, one meaning: renamed options are refused with their new name -------------

MODEL_KIND = "--model is now --model-kind (a model kind: cnn, mlp)"
METRICS_DIR = "--metrics is now --metrics-dir (the directory of metrics files)"
# Every old spelling, written out (not read from options.RENAMED, which the test checks).
REFUSED = [
    ("route", ["--model", "mlp"], MODEL_KIND),
    ("route", ["--epochs", "2", "--model=mlp"], MODEL_KIND),
    ("overrides", ["--model", "mlp"], MODEL_KIND),
    ("experiment", ["--model", "cnn", "--no-pull"], MODEL_KIND),
    ("summary", ["--metrics", "metrics"], METRICS_DIR),
    ("gate", ["--metrics=metrics"], METRICS_DIR),
    ("report", ["--base-ref", "HEAD", "--metrics", "metrics"], METRICS_DIR),
    (
        "overrides",
        ["train.epochs=3", "--params", "params.yaml", "train.model=mlp"],
        "train.epochs=3 train.model=mlp: key=value pairs are now given with --set",
    ),
]


def one_line(output: str) -> str:
    """The CLI's output without the error panel's borders and line wrapping."""
    return " ".join(output.replace("│", " ").split())


@pytest.mark.parametrize(("command", "args", "message"), REFUSED)
def test_an_old_spelling_is_a_usage_error_naming_the_new_one(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command, args, message
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing to find here: a command that ran would fail with 1
    result = cli.invoke(app, [command, *args])
    assert result.exit_code == 2, result.output
    assert message in one_line(result.output)
    assert f"{command} [OPTIONS]" in result.output  # the usage line of the command itself
    assert list(tmp_path.iterdir()) == []


def test_every_renamed_option_is_tested() -> None:
    tested = {
        (command, word.partition("=")[0])
        for command, args, _ in REFUSED
        for word in args
        if word.partition("=")[0] in options.RENAMED.get(command, {})
    }
    renamed = {(command, old) for command, table in options.RENAMED.items() for old in table}
    assert tested == renamed
    assert {command for command, args, _ in REFUSED if "train.epochs=3" in args} == set(
        options.POSITIONAL_MOVED
    )


# --- renamed action inputs: an action passes the old input's value for the CLI to refuse -------

INPUT_MODEL = "the action input 'model' is now 'model-kind' (a model kind: cnn, mlp)"


@pytest.mark.parametrize("command", ["route", "experiment"])
def test_a_renamed_action_input_is_a_usage_error_naming_the_new_one(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    # As actions/route and actions/experiment run it, with `model: mlp` given to the action.
    monkeypatch.chdir(tmp_path)
    env = {"UNTRUSTED_RENAMED_INPUT_MODEL": "mlp"}
    result = cli.invoke(app, [command, "--model-kind", ""], env=env)
    assert result.exit_code == 2, result.output
    assert INPUT_MODEL in one_line(result.output)
    assert list(tmp_path.iterdir()) == []


def test_a_renamed_action_input_left_empty_is_not_refused(cli: CliRunner) -> None:
    # An input the workflow leaves out still reaches the step, as an empty value.
    params = str(REPO_ROOT / "params.yaml")
    env = {"UNTRUSTED_RENAMED_INPUT_MODEL": ""}
    args = ["overrides", "--params", params, "--model-kind", "mlp"]
    result = cli.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "-S train.model=mlp"


def test_a_renamed_input_counts_only_for_the_commands_that_renamed_it() -> None:
    given = {options.renamed_input_variable("model"): "models/model.onnx"}
    assert options.renamed_input_message("route", given) == INPUT_MODEL
    # deploy's `model` input is a model file, never renamed.
    assert options.renamed_input_message("deploy", given) is None
    assert options.renamed_input_variable("metrics-dir") == "UNTRUSTED_RENAMED_INPUT_METRICS_DIR"


def test_a_value_that_looks_like_an_old_option_is_only_a_value(cli: CliRunner) -> None:
    # `--model` here is the value of --set, so the overrides parser judges it (exit 1), not the
    # old-spelling check (exit 2).
    params = str(REPO_ROOT / "params.yaml")
    result = cli.invoke(app, ["overrides", "--params", params, "--set", "--model"])
    assert result.exit_code == 1, result.output
    assert "override '--model' is not key=value" in result.stderr


def test_an_unknown_option_is_still_clicks_own_error(cli: CliRunner) -> None:
    result = cli.invoke(app, ["route", "--modl", "mlp"])
    assert result.exit_code == 2
    assert "No such option: --modl" in one_line(result.output)


@pytest.mark.parametrize(
    ("command", "new", "old"),
    [
        ("route", "--model-kind", "--model"),
        ("overrides", "--model-kind", "--model"),
        ("experiment", "--model-kind", "--model"),
        ("summary", "--metrics-dir", "--metrics"),
        ("gate", "--metrics-dir", "--metrics"),
        ("report", "--metrics-dir", "--metrics"),
    ],
)
def test_help_shows_the_new_spelling_only(cli: CliRunner, command, new, old) -> None:
    result = cli.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    spellings = set(re.findall(r"--[a-z][a-z-]*", result.output))
    assert new in spellings
    assert old not in spellings


@pytest.mark.parametrize("command", ["route", "overrides", "experiment"])
def test_the_override_commands_share_params_and_set(cli: CliRunner, command: str) -> None:
    spellings = set(re.findall(r"--[a-z][a-z-]*", cli.invoke(app, [command, "--help"]).output))
    assert {"--params", "--set", "--epochs", "--learning-rate", "--model-kind"} <= spellings


def test_overrides_takes_set_and_the_typed_fields(cli: CliRunner) -> None:
    params = str(REPO_ROOT / "params.yaml")
    pairs = "train.epochs=3 'train.cnn.filters=[16, 32]'"
    result = cli.invoke(
        app, ["overrides", "--params", params, "--set", pairs, "--model-kind", "mlp"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "-S train.epochs=3 -S 'train.cnn.filters=[16,32]' -S train.model=mlp"
    )


def test_the_model_kinds_named_are_those_params_accept() -> None:
    assert BUILT_IN_MODELS == options.MODEL_KINDS
    for kind in options.MODEL_KINDS:
        assert TrainParams(model=kind).reference is None
