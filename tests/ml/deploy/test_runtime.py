"""The local deployment's runtime: built once per environment in the state folder, reused while
nothing changes, rebuilt when the kit's code does, and able to run the service's imports on its
own (no PYTHONPATH, another working directory). End to end, after the workspace is gone:
test_local.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import ml
from ml.deploy import runtime
from ml.errors import UserError
from tests.paths import REPO_ROOT


@pytest.fixture
def kit(tmp_path, monkeypatch) -> Path:
    """A copy of the kit's code and serving requirements, as the runtime's source."""
    root = tmp_path / "kit"
    shutil.copytree(REPO_ROOT / "ml", root / "ml", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "requirements").mkdir()
    shutil.copy(REPO_ROOT / "requirements" / "serve.in", root / "requirements")
    monkeypatch.setattr(ml, "__file__", str(root / "ml" / "__init__.py"))
    return root


def test_the_runtime_imports_the_service_from_its_own_files(kit, tmp_path):
    python = runtime.serving_python(tmp_path / "state")
    probe = "import ml, ml.serve.app, ml.deploy.supervisor, onnxruntime; print(ml.__file__)"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(python), "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_relative_to(python.parent.parent)


def test_an_unchanged_environment_reuses_the_runtime_and_a_code_change_rebuilds(kit, tmp_path):
    state = tmp_path / "state"
    first = runtime.serving_python(state)
    built = (first.parent.parent / runtime.COMPLETE).stat().st_mtime_ns
    assert runtime.serving_python(state) == first
    assert (first.parent.parent / runtime.COMPLETE).stat().st_mtime_ns == built
    (kit / "ml" / "serve" / "page.html").write_text("<p>another page</p>")
    second = runtime.serving_python(state)
    assert second != first and second.exists()
    runtime.prune(state, keep=second)
    assert [path.name for path in state.iterdir()] == [second.parent.parent.name]


def test_a_runtime_cut_short_is_built_again(kit, tmp_path):
    python = runtime.serving_python(tmp_path / "state")
    (python.parent.parent / runtime.COMPLETE).unlink()
    shutil.rmtree(next(python.parent.parent.glob("lib/python*/site-packages/numpy")))
    assert runtime.serving_python(tmp_path / "state") == python
    assert (python.parent.parent / runtime.COMPLETE).exists()
    assert next(python.parent.parent.glob("lib/python*/site-packages/numpy/__init__.py"))


def test_without_the_serving_requirements_it_says_which_file_is_missing(kit, tmp_path):
    (kit / "requirements" / "serve.in").unlink()
    with pytest.raises(UserError, match=r"serve\.in: cannot read the serving requirements"):
        runtime.serving_python(tmp_path / "state")
    assert not (tmp_path / "state").exists()
