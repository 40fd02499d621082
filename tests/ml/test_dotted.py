"""The dotted-key walker: each rule its callers rely on, and an error that starts with the key."""

from __future__ import annotations

import re

import pytest

from ml import dotted
from ml.dotted import DottedKeyError
from ml.errors import UserError


def params() -> dict:
    return {
        "train": {"epochs": 60, "cnn": {"filters": [32, 64], "kernel_size": 3}},
        "export": None,  # `export:` with every key commented out
    }


# --- key syntax ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["train", "train.epochs", "train.cnn.filters", "_x.y_2"])
def test_well_formed_keys(key: str) -> None:
    assert dotted.is_key(key)


@pytest.mark.parametrize("key", ["", "train.", ".epochs", "train..epochs", "Train.epochs", "2.x"])
def test_malformed_keys_are_refused_by_every_operation(key: str) -> None:
    assert not dotted.is_key(key)
    message = re.escape(f"{key}: not a dotted key of lowercase names")
    for operation in (
        lambda: dotted.get(params(), key),
        lambda: dotted.set_value(params(), key, 1, create=True, replace_mapping=True),
        lambda: dotted.pop(params(), key),
    ):
        with pytest.raises(DottedKeyError, match=f"^{message}"):
            operation()


def test_the_error_is_a_user_error_carrying_the_key() -> None:
    with pytest.raises(DottedKeyError) as caught:
        dotted.get(params(), "train.cnn.filtres")
    assert isinstance(caught.value, UserError) and isinstance(caught.value, ValueError)
    assert caught.value.key == "train.cnn.filtres"
    assert str(caught.value) == f"train.cnn.filtres: {caught.value.problem}"


# --- get and pop ---------------------------------------------------------------------------------


def test_get_reads_values_and_sections() -> None:
    assert dotted.get(params(), "train.cnn.filters") == [32, 64]
    assert dotted.get(params(), "train.cnn") == {"filters": [32, 64], "kernel_size": 3}


def test_an_unknown_leaf_is_named_with_a_suggestion_and_the_allowed_keys() -> None:
    with pytest.raises(DottedKeyError) as caught:
        dotted.get(params(), "train.cnn.filtres")
    assert str(caught.value) == (
        "train.cnn.filtres: unknown key. Did you mean 'filters'? "
        "Allowed here: filters, kernel_size"
    )


def test_an_unknown_section_is_named_within_the_full_key() -> None:
    with pytest.raises(DottedKeyError) as caught:
        dotted.get(params(), "train.cn.filters")
    assert str(caught.value) == (
        "train.cn.filters: train.cn: unknown key. Did you mean 'cnn'? Allowed here: cnn, epochs"
    )


@pytest.mark.parametrize(
    ("key", "value_at"), [("train.epochs.max", "train.epochs"), ("export.x", "export")]
)
def test_a_value_cannot_be_walked_into(key: str, value_at: str) -> None:
    problem = f"{key}: {value_at} is a value, not a section"
    with pytest.raises(DottedKeyError, match=re.escape(problem)):
        dotted.get(params(), key)


def test_pop_removes_the_key_and_returns_its_value() -> None:
    mapping = params()
    assert dotted.pop(mapping, "train.cnn.filters") == [32, 64]
    assert mapping["train"]["cnn"] == {"kernel_size": 3}
    with pytest.raises(DottedKeyError, match=r"^train\.cnn\.filters: unknown key"):
        dotted.pop(mapping, "train.cnn.filters")


# --- set_value: the strict rules (the tune search space) -----------------------------------------


def test_set_replaces_an_existing_value_in_place() -> None:
    mapping = params()
    dotted.set_value(mapping, "train.cnn.filters", [16])
    assert mapping["train"]["cnn"]["filters"] == [16]


def test_without_create_a_new_key_is_refused() -> None:
    mapping = params()
    with pytest.raises(DottedKeyError, match=r"^train\.cnn\.filter: unknown key\. Did you mean"):
        dotted.set_value(mapping, "train.cnn.filter", [16])
    with pytest.raises(DottedKeyError, match=r"^train\.mlp\.units: train\.mlp: unknown key"):
        dotted.set_value(mapping, "train.mlp.units", [16])
    assert mapping == params()


def test_without_replace_mapping_a_section_cannot_become_a_value() -> None:
    with pytest.raises(
        DottedKeyError,
        match=re.escape(
            "train.cnn: a section, not a value; set one of its keys (filters, kernel_size)"
        ),
    ):
        dotted.set_value(params(), "train.cnn", {"filters": [8]})


# --- set_value: the permissive rules (`ml overrides`, the params-file writer) --------------------


def test_create_adds_the_key_and_every_missing_or_empty_section() -> None:
    mapping = params()
    dotted.set_value(mapping, "train.mlp.units", [16], create=True)
    dotted.set_value(mapping, "export.latency_runs", 5, create=True)
    dotted.set_value(mapping, "serve.port", 9000, create=True)
    assert mapping["train"]["mlp"] == {"units": [16]}
    assert mapping["export"] == {"latency_runs": 5}
    assert mapping["serve"] == {"port": 9000}


def test_create_still_refuses_to_walk_into_a_value() -> None:
    with pytest.raises(DottedKeyError, match=r"train\.epochs is a value, not a section"):
        dotted.set_value(params(), "train.epochs.max", 3, create=True)


def test_replace_mapping_sets_a_whole_section() -> None:
    mapping = params()
    dotted.set_value(mapping, "train.cnn", {"filters": [8]}, replace_mapping=True)
    assert mapping["train"]["cnn"] == {"filters": [8]}


def test_new_mapping_makes_the_created_sections() -> None:
    class Section(dict):
        pass

    mapping: dict = {}
    dotted.set_value(mapping, "a.b.c", 1, create=True, new_mapping=Section)
    assert type(mapping["a"]) is Section and type(mapping["a"]["b"]) is Section


def test_a_top_level_that_is_not_a_mapping_is_named() -> None:
    with pytest.raises(DottedKeyError, match=r"^train\.epochs: the top level is a list"):
        dotted.set_value([1, 2], "train.epochs", 3, create=True)  # type: ignore[arg-type]


# --- updated -------------------------------------------------------------------------------------


def test_updated_returns_a_changed_copy_and_leaves_the_original() -> None:
    original = params()
    result = dotted.updated(original, {"train.epochs": 3, "train.cnn.filters": [8]})
    assert result["train"]["epochs"] == 3 and result["train"]["cnn"]["filters"] == [8]
    assert original == params()
    result["train"]["cnn"]["kernel_size"] = 5
    assert original["train"]["cnn"]["kernel_size"] == 3  # a deep copy


def test_updated_passes_the_rules_on() -> None:
    with pytest.raises(DottedKeyError, match="unknown key"):
        dotted.updated(params(), {"train.mlp.units": [8]})
    result = dotted.updated(params(), {"train.mlp.units": [8]}, create=True)
    assert result["train"]["mlp"] == {"units": [8]}


# --- the unknown-key wording, shared with the params errors --------------------------------------


def test_unknown_key_problem_suggests_only_a_close_match() -> None:
    assert dotted.unknown_key_problem("epoch", ["seed", "epochs"]) == (
        "unknown key. Did you mean 'epochs'? Allowed here: epochs, seed"
    )
    assert dotted.unknown_key_problem("zzz", ["seed"]) == "unknown key. Allowed here: seed"
    assert dotted.unknown_key_problem("x", []) == "unknown key. Allowed here: nothing"
