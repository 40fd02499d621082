"""Write settings back into params.yaml the way a person would edit it: ruamel.yaml's round trip
keeps every comment, the key order and the `[32, 64]` list style; only the values change."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml

from ml import dotted
from ml.config import Params, parse_params
from ml.errors import UserError
from ml.io import write_text


def yaml_round_trip():
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip mode: comments and layout survive a load/dump
    yaml.width = 4096  # never fold a long line the file did not fold
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def updated_text(text: str, section: str, overrides: dict[str, Any]) -> str:
    """`text` with the dotted keys of `section` ({'cnn.filters': [16]}) set to new values.
    Settings the file leaves to their defaults are added, in sections created as needed."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = yaml_round_trip()
    document = yaml.load(text) or CommentedMap()
    for key, value in overrides.items():
        if isinstance(value, list):
            value = CommentedSeq(value)
            value.fa.set_flow_style()  # [16, 32] on one line, as in the shipped file
        dotted.set_value(
            document, f"{section}.{key}", value, create=True, new_mapping=CommentedMap
        )
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def write_overrides(path: Path, section: str, overrides: dict[str, Any]) -> Params:
    """Apply `overrides` to `section` of the params file at `path`, atomically and only if the
    result is valid params; return the new params."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read params: {exc}") from None
    new_text = updated_text(text, section, overrides)
    params = parse_params(yaml.safe_load(new_text) or {}, source=f"{path} (updated)")
    write_text(path, new_text)
    return params
