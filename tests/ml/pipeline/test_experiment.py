"""`ml experiment` helpers: a name that follows from the request, and data from another Git ref
(its DVC pointer files), with refs checked before git sees them. The full experiment runs in
tests/actions/test_harness.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.cli import app
from ml.errors import UserError
from ml.pipeline import experiment
from tests.conftest import tool_env
from tests.helpers import run


def test_the_name_follows_from_the_overrides_and_the_data_ref() -> None:
    first = experiment.experiment_name({"train.epochs": 3}, "")
    assert first == experiment.experiment_name({"train.epochs": 3}, "")
    assert first != experiment.experiment_name({"train.epochs": 4}, "")
    assert first != experiment.experiment_name({"train.epochs": 3}, "v2")
    assert experiment.NAME.match(first) and first.startswith("retrain-")


@pytest.fixture
def data_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    """A repository whose DVC-tracked table changed after the tag `data-v1`."""
    env = tool_env(tmp_path)
    run(["git", "init", "-q", "-b", "main"], tmp_path, env)
    run(["dvc", "init", "-q"], tmp_path, env)
    (tmp_path / "data").mkdir()
    for version, rows in (("data-v1", "a,b\n1,2\n"), (None, "a,b\n1,2\n3,4\n")):
        (tmp_path / "data/table.csv").write_text(rows)
        run(["dvc", "add", "-q", "data/table.csv"], tmp_path, env)
        run(["git", "add", "-A"], tmp_path, env)
        run(["git", "commit", "-qm", f"table {version or 'v2'}"], tmp_path, env)
        if version:
            run(["git", "tag", version], tmp_path, env)
    monkeypatch.chdir(tmp_path)
    return tmp_path, env


def test_data_ref_restores_that_refs_pointer_files(data_repo) -> None:
    repo, env = data_repo
    newest = (repo / "data/table.csv.dvc").read_text()
    assert experiment.restore_data("data-v1") == ["data/table.csv.dvc"]
    restored = (repo / "data/table.csv.dvc").read_text()
    assert restored != newest
    run(["dvc", "checkout", "-q"], repo, env)
    assert (repo / "data/table.csv").read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize("ref", ["--output=/tmp/x", "-v", "a..b", "main.lock", "x y", "v1/"])
def test_refs_that_are_not_plain_names_are_refused(data_repo, ref: str) -> None:
    with pytest.raises(UserError, match="is not a branch, tag or commit name"):
        experiment.restore_data(ref)


def test_an_unknown_ref_is_named(data_repo) -> None:
    with pytest.raises(UserError, match="'nope': no such branch, tag or commit"):
        experiment.restore_data("nope")


def test_a_ref_without_tracked_data_is_refused(data_repo) -> None:
    repo, env = data_repo
    first = run(["git", "rev-list", "--max-parents=0", "HEAD"], repo, env).stdout.strip()
    run(["git", "tag", "empty", first], repo, env)
    run(["git", "rm", "-q", "--cached", "data/table.csv.dvc"], repo, env)
    run(["git", "commit", "-qm", "untrack"], repo, env)
    run(["git", "tag", "untracked"], repo, env)
    with pytest.raises(UserError, match="no DVC-tracked data"):
        experiment.restore_data("untracked")


def test_overrides_to_another_params_file_name_it_for_dvc() -> None:
    changes = {"train.epochs": 3}
    assert experiment.set_args(Path("params.yaml"), changes) == ["-S", "train.epochs=3"]
    named = experiment.set_args(Path("conf/p.yaml"), changes)
    assert named == ["-S", "conf/p.yaml:train.epochs=3"]


def test_params_option_is_the_file_checked_and_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    # A one-stage pipeline that copies its params file: the copy shows what DVC applied.
    env = tool_env(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "conf.yaml").write_text("train:\n  epochs: 5\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n"
        "  copy:\n"
        "    cmd: cp conf.yaml seen.yaml\n"
        "    params:\n"
        "      - conf.yaml:\n"
        "          - train\n"
        "    outs:\n"
        "      - seen.yaml\n"
    )
    run(["git", "init", "-q", "-b", "main"], tmp_path, env)
    run(["dvc", "init", "-q"], tmp_path, env)
    run(["git", "add", "-A"], tmp_path, env)
    run(["git", "commit", "-qm", "pipeline"], tmp_path, env)
    monkeypatch.chdir(tmp_path)
    unknown = cli.invoke(app, ["experiment", "--params", "conf.yaml", "--set", "train.epoch=3"])
    assert unknown.exit_code == 1
    assert "train.epoch: unknown key" in unknown.stderr
    args = ["--params", "conf.yaml", "--set", "train.epochs=3", "--no-pull", "--no-push"]
    result = cli.invoke(app, ["experiment", *args])
    assert result.exit_code == 0, result.output
    assert "epochs: 3" in (tmp_path / "seen.yaml").read_text()
