"""Dotted keys (`train.cnn.filters`) into nested mappings: the one walker behind the params
schema's search-space check, `ml tune`, `ml overrides` (and `--set`) and the params-file writer.

Their rules differ on purpose, so they are options here rather than copies:
- `create`: a missing key, and any missing or empty (`export:` with every key commented out)
  section on its way, is added. For edits whose result the schema validates afterwards, so a typo
  still fails, with the schema's "did you mean". Without it the key must already exist: checking
  against a full dump of the defaults, a typo fails here.
- `replace_mapping`: a whole section may be set to a value. Without it `cnn` cannot stand in for
  `cnn.filters`, so each searched key stays one setting.
Any MutableMapping works, so ruamel's CommentedMap is edited in place with its comments kept.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any

from ml.errors import UserError

KEY = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


class DottedKeyError(UserError, ValueError):
    """A dotted key that is malformed or does not fit the mapping; the message starts with it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def is_key(text: str) -> bool:
    """Lowercase snake_case names joined by dots: the shape of every params key."""
    return bool(KEY.match(text))


def unknown_key_problem(name: str, allowed: Iterable[str]) -> str:
    """'unknown key. Did you mean ...? Allowed here: ...', as the params errors word it."""
    allowed = sorted(allowed)
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"unknown key.{hint} Allowed here: {', '.join(allowed) or 'nothing'}"


def get(mapping: Mapping, key: str) -> Any:
    """The value at `key`; DottedKeyError if any part of it is missing."""
    node, leaf = _parent(mapping, key, create=False)
    if leaf not in node:
        raise _unknown(key, key, node)
    return node[leaf]


def set_value(
    mapping: MutableMapping,
    key: str,
    value: Any,
    *,
    create: bool = False,
    replace_mapping: bool = False,
    new_mapping: Callable[[], MutableMapping] = dict,
) -> None:
    """Set `key` in place. `new_mapping` makes the sections `create` adds (CommentedMap for a
    round-tripped YAML document)."""
    node, leaf = _parent(mapping, key, create=create, new_mapping=new_mapping)
    if leaf not in node and not create:
        raise _unknown(key, key, node)
    current = node.get(leaf)
    if isinstance(current, Mapping) and not replace_mapping:
        keys = ", ".join(sorted(current)) or "none"
        raise DottedKeyError(key, f"a section, not a value; set one of its keys ({keys})")
    node[leaf] = value


def updated(mapping: dict, changes: Mapping[str, Any], **rules: Any) -> dict:
    """A deep copy of `mapping` with every dotted key of `changes` set under `rules`
    (the keyword options of `set_value`)."""
    result = copy.deepcopy(mapping)
    for key, value in changes.items():
        set_value(result, key, value, **rules)
    return result


def pop(mapping: MutableMapping, key: str) -> Any:
    """Remove `key` and return its value; DottedKeyError if any part of it is missing."""
    node, leaf = _parent(mapping, key, create=False)
    if leaf not in node:
        raise _unknown(key, key, node)
    return node.pop(leaf)


def _parent(
    mapping: Mapping,
    key: str,
    *,
    create: bool,
    new_mapping: Callable[[], MutableMapping] = dict,
) -> tuple[Any, str]:
    """The mapping that holds the last part of `key`, and that part."""
    if not isinstance(key, str) or not is_key(key):
        raise DottedKeyError(str(key), "not a dotted key of lowercase names (like train.epochs)")
    if not isinstance(mapping, Mapping):
        raise DottedKeyError(key, f"the top level is a {type(mapping).__name__}, not a mapping")
    *parents, leaf = key.split(".")
    node: Any = mapping
    for depth, part in enumerate(parents):
        path = ".".join(parents[: depth + 1])
        child = node.get(part)
        if child is None and create:
            child = node[part] = new_mapping()
        elif part not in node:
            raise _unknown(key, path, node)
        elif not isinstance(child, Mapping):
            raise DottedKeyError(key, f"{path} is a value, not a section")
        node = child
    return node, leaf


def _unknown(key: str, path: str, node: Mapping) -> DottedKeyError:
    name = path.rsplit(".", 1)[-1]
    where = "" if path == key else f"{path}: "
    return DottedKeyError(key, where + unknown_key_problem(name, node))
