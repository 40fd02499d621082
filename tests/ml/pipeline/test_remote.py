"""`ml dvc-remote`: the job's DVC remote and credentials go to .dvc/config.local, checked by DVC's
own schema, never into the committed config or the log."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ml.errors import UserError
from ml.pipeline import remote as dvc_remote
from tests.conftest import tool_env
from tests.helpers import run


@pytest.fixture
def dvc_repo(tmp_path: Path) -> Path:
    env = tool_env(tmp_path)
    run(["git", "init", "-q"], tmp_path, env)
    run(["dvc", "init", "-q"], tmp_path, env)
    return tmp_path


def test_credential_lines_parse_and_bad_lines_hide_their_text() -> None:
    text = "# S3\naccess_key_id=AKIA1\n\nsecret_access_key = a=b==\n"
    assert dvc_remote.parse_credentials(text) == {
        "access_key_id": "AKIA1",
        "secret_access_key": "a=b==",
    }
    with pytest.raises(UserError, match="line 2: expected option=value") as error:
        dvc_remote.parse_credentials("region=eu\nsupersecretvalue\n")
    assert "supersecretvalue" not in str(error.value)


def test_url_and_credentials_land_in_config_local_only(dvc_repo: Path) -> None:
    committed = (dvc_repo / ".dvc/config").read_text()
    credentials = {"access_key_id": "AKIA1", "secret_access_key": "s3cr3t"}
    name = dvc_remote.configure("ci", "s3://bucket/store", credentials, root=dvc_repo)
    assert name == "ci"
    local = dvc_repo / ".dvc/config.local"
    text = local.read_text()
    assert "s3://bucket/store" in text and "s3cr3t" in text and "remote = ci" in text
    assert stat.S_IMODE(local.stat().st_mode) == 0o600
    assert (dvc_repo / ".dvc/config").read_text() == committed
    assert "/config.local" in (dvc_repo / ".dvc/.gitignore").read_text()
    shown = run(["dvc", "remote", "default"], dvc_repo, tool_env(dvc_repo))
    assert shown.stdout.strip() == "ci"


def test_credentials_for_the_repositorys_default_remote(dvc_repo: Path) -> None:
    run(["dvc", "remote", "add", "-d", "store", "s3://team/dvc"], dvc_repo, tool_env(dvc_repo))
    assert dvc_remote.configure("ci", "", {"profile": "ci"}, root=dvc_repo) == "store"
    assert "profile = ci" in (dvc_repo / ".dvc/config.local").read_text()


def test_an_option_the_remote_does_not_have_is_refused_and_nothing_written(
    dvc_repo: Path,
) -> None:
    with pytest.raises(UserError, match=r"extra keys not allowed.*access_key_id"):
        dvc_remote.configure("ci", str(dvc_repo / "store"), {"access_key_id": "x"}, dvc_repo)
    assert not (dvc_repo / ".dvc/config.local").exists()


def test_credentials_without_any_remote_are_refused(dvc_repo: Path) -> None:
    with pytest.raises(UserError, match="no DVC remote to configure"):
        dvc_remote.configure("ci", "", {"profile": "x"}, root=dvc_repo)


def test_values_are_masked_in_actions_logs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    dvc_remote.mask(["s3cr3t", ""])
    assert capsys.readouterr().out == "::add-mask::s3cr3t\n"
