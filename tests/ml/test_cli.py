"""`ml prepare` from the command line: user errors are one message and exit 1, no traceback."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ml.cli import app
from tests.helpers import run_ml


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
    assert "column 'age': expected float64 values, found 'old' (rows 3)" in result.stderr
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
