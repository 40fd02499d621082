"""Atomic writes: a stage that fails leaves either the old file or nothing, never half a file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


def write_json(path: str | Path, data: object) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json(path: str | Path) -> dict:
    """The JSON object in `path`; any other JSON value is an error naming the file."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    The temporary name keeps `path`'s suffix: Keras and ONNX writers insist on theirs.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    tmp.chmod(0o666 & ~current_umask())  # mkstemp makes 0600; outputs follow the umask
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes 0700; outputs follow the umask
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load_split(data_dir: str | Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one prepared split: train, validation or test. For an image folder x is an
    ml.data.images.ImageFiles, which decodes its files only when sliced."""
    data_dir = Path(data_dir)
    if not (data_dir / f"{name}.npz").exists() and (data_dir / f"{name}.csv").exists():
        from ml.data import images

        x, y = images.load_split(data_dir, name, read_json(data_dir / "dataset.json"))
        return x, y  # type: ignore[return-value]  # array-like: len, shape, slicing
    with np.load(data_dir / f"{name}.npz") as arrays:
        return arrays["x"], arrays["y"]


def split_file(data_dir: str | Path, name: str) -> Path:
    """The file holding one prepared split: its arrays, or an image folder's manifest."""
    arrays = Path(data_dir) / f"{name}.npz"
    return arrays if arrays.exists() else Path(data_dir) / f"{name}.csv"
