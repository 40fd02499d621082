"""Atomic writes: all or nothing, and permissions that follow the umask like a plain open()."""

from __future__ import annotations

import os

import pytest

from ml.io import atomic_dir, atomic_path, read_json, write_json


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_dir_keeps_the_old_directory_on_failure(tmp_path):
    target = tmp_path / "prepared"
    target.mkdir()
    (target / "keep.txt").write_text("v1")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("v2")
        raise RuntimeError
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert list(tmp_path.iterdir()) == [target]


def test_outputs_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        write_json(tmp_path / "metrics.json", {"a": 1})
        with atomic_dir(tmp_path / "plots") as tmp:
            (tmp / "x.csv").write_text("x\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "metrics.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "plots").stat().st_mode & 0o777 == 0o755


def test_read_json_refuses_a_value_that_is_not_an_object(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"metrics\.json: expected a JSON object, found list"):
        read_json(path)
