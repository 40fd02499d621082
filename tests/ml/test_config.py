"""params.yaml -> strict pydantic models: every mistake is a ParamsError naming the dotted key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ml import dotted
from ml.config import (
    Params,
    ParamsError,
    TrainParams,
    load_params,
    model_params_hash,
    parse_params,
    section_hash,
    train_with,
)
from ml.errors import UserError
from tests.paths import REPO_ROOT

CSV_SOURCE = {
    "source": {"path": "data/raw/people.csv"},
    "task": "classification",
    "target": "label",
    "numeric_features": ["age"],
    "categorical_features": ["city"],
}


def error_of(raw: object) -> str:
    with pytest.raises(ParamsError) as caught:
        parse_params(raw)
    return str(caught.value)


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "params.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- files -----------------------------------------------------------------------------------


def test_shipped_params_file_loads() -> None:
    params = load_params(REPO_ROOT / "params.yaml")
    assert params.prepare.source.bundled == "digits"
    assert params.prepare.resolved_task == "classification"
    assert params.evaluate.plot == "confusion"
    assert params.train.model in ("cnn", "mlp")


def test_empty_file_gives_the_defaults(tmp_path: Path) -> None:
    params = load_params(write(tmp_path, "# only a comment\n"))
    assert params == Params()
    assert params.prepare.source.bundled == "digits"
    assert (params.prepare.split.train, params.prepare.split.test) == (0.7, 0.15)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ParamsError, match="file not found") as caught:
        load_params(path)
    assert str(path) in str(caught.value)


def test_invalid_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "train:\n  epochs: [1, 2\n")
    with pytest.raises(ParamsError, match="not valid YAML") as caught:
        load_params(path)
    assert str(path) in str(caught.value)
    assert "line" in str(caught.value)


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str")])
def test_non_mapping_yaml(tmp_path: Path, text: str, kind: str) -> None:
    with pytest.raises(ParamsError, match=f"expected a mapping of sections, got {kind}"):
        load_params(write(tmp_path, text))


def test_unreadable_path_is_a_params_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="cannot read params"):
        load_params(tmp_path)  # a directory
    with pytest.raises(ParamsError, match="cannot read params"):
        load_params(write(tmp_path, b"\xff\xfe\x00 not utf-8"))


def test_params_error_is_a_user_error() -> None:
    # The CLI prints UserErrors as one message without a traceback.
    assert issubclass(ParamsError, UserError)


# --- unknown keys ----------------------------------------------------------------------------


def test_unknown_top_level_key_suggests_and_lists_sections() -> None:
    message = error_of({"trian": {"epochs": 3}})
    assert "trian: unknown key. Did you mean 'train'?" in message
    assert (
        "Allowed here: deploy, evaluate, export, gate, monitor, prepare, route, serve, train, tune"
        in message
    )


def test_unknown_nested_key_suggests_close_match() -> None:
    message = error_of({"train": {"epoch": 3}})
    assert "train.epoch: unknown key. Did you mean 'epochs'?" in message
    assert "Allowed here: augment, batch_size, cnn, early_stopping, epochs," in message


def test_unknown_key_two_levels_down() -> None:
    message = error_of({"train": {"cnn": {"filter": [8]}}})
    assert "train.cnn.filter: unknown key. Did you mean 'filters'?" in message
    assert "Allowed here: dense_units, dropout_rate, filters, kernel_size" in message


def test_unknown_key_inside_source() -> None:
    message = error_of({"prepare": {"source": {"bundle": "iris"}}})
    assert "prepare.source.bundle: unknown key. Did you mean 'bundled'?" in message
    assert "Allowed here: bundled, images, path, sha256, url" in message


def test_unknown_key_without_close_match_only_lists_allowed() -> None:
    message = error_of({"export": {"zzz": 1}})
    assert "export.zzz: unknown key." in message
    assert "Did you mean" not in message
    assert "Allowed here: latency_runs, tolerance" in message


# --- wrong types and impossible values -------------------------------------------------------


def test_wrong_type_names_key_and_value() -> None:
    message = error_of({"train": {"epochs": "many"}})
    assert "train.epochs: Input should be a valid integer" in message
    assert "(got 'many')" in message


def test_negative_epochs() -> None:
    message = error_of({"train": {"epochs": -1}})
    assert "train.epochs: Input should be greater than 0 (got -1)" in message


def test_choice_lists_allowed_values() -> None:
    message = error_of({"train": {"model": "rnn"}})
    assert "train.model: 'rnn' is not cnn, mlp, or a reference to a build function" in message
    assert "models/net.py:build" in message


def test_section_of_wrong_type() -> None:
    assert "train: Input should be a valid dictionary" in error_of({"train": 5})


def test_every_problem_is_listed_at_once() -> None:
    message = error_of({"train": {"epochs": 0, "batch_size": "big", "dropout": 0.1}})
    assert "train.epochs:" in message
    assert "train.batch_size:" in message
    assert "train.dropout: unknown key." in message
    assert len(message.splitlines()) == 4  # header + one line per problem


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_split_fraction_out_of_range(fraction: float) -> None:
    message = error_of({"prepare": {"split": {"test": fraction}}})
    assert "prepare.split.test:" in message


def test_split_must_sum_to_one() -> None:
    message = error_of({"prepare": {"split": {"train": 0.5, "validation": 0.2, "test": 0.2}}})
    assert "prepare.split: train + validation + test must sum to 1" in message
    assert "0.5 + 0.2 + 0.2 = 0.9" in message
    # A cross-field check does not repeat the whole section as "(got {...})".
    assert "(got {" not in message


def test_split_fractions_within_rounding_are_accepted() -> None:
    params = parse_params({"prepare": {"split": {"train": 0.8, "validation": 0.1, "test": 0.1}}})
    assert params.prepare.split.train == 0.8


# --- sources ---------------------------------------------------------------------------------


def test_file_source_with_declared_columns_is_valid() -> None:
    params = parse_params({"prepare": CSV_SOURCE})
    assert params.prepare.source.path == "data/raw/people.csv"
    assert params.prepare.resolved_task == "classification"
    assert params.prepare.numeric_features == ["age"]


@pytest.mark.parametrize("extra", [{"target": "label"}, {"task": "regression"}])
def test_bundled_source_rejects_target_and_task(extra: dict) -> None:
    message = error_of({"prepare": {"source": {"bundled": "iris"}, **extra}})
    assert "prepare: task, target and feature lists come with a bundled dataset" in message


def test_path_source_needs_target() -> None:
    message = error_of({"prepare": {"source": {"path": "a.csv"}, "task": "regression"}})
    assert "prepare: a 'path' or 'url' source needs 'target'" in message


def test_path_source_needs_task() -> None:
    message = error_of({"prepare": {"source": {"path": "a.csv"}, "target": "y"}})
    assert "prepare: a 'path' or 'url' source needs 'task'" in message


def test_path_source_needs_features() -> None:
    raw = {"source": {"path": "a.csv"}, "task": "regression", "target": "y"}
    assert "declare at least one of numeric_features" in error_of({"prepare": raw})


def test_feature_listed_twice_or_as_target() -> None:
    twice = CSV_SOURCE | {"categorical_features": ["age"]}
    assert "features listed more than once: age" in error_of({"prepare": twice})
    as_target = CSV_SOURCE | {"numeric_features": ["age", "label"]}
    assert "target 'label' is also listed as a feature" in error_of({"prepare": as_target})


def test_source_with_bundled_and_path() -> None:
    message = error_of({"prepare": {"source": {"bundled": "iris", "path": "a.csv"}}})
    assert (
        "prepare.source: set exactly one of 'bundled', 'path', 'url' or 'images' "
        "(got bundled, path)" in message
    )


def test_source_with_nothing_set() -> None:
    message = error_of({"prepare": {"source": {}}})
    assert (
        "prepare.source: set exactly one of 'bundled', 'path', 'url' or 'images' (got none)"
        in message
    )


def test_unknown_bundled_name_lists_the_sets() -> None:
    message = error_of({"prepare": {"source": {"bundled": "mnist"}}})
    assert "prepare.source.bundled:" in message
    assert "'digits'" in message
    assert "'diabetes'" in message


def test_url_with_bad_scheme() -> None:
    raw = CSV_SOURCE | {"source": {"url": "ftp://example.org/a.csv"}}
    message = error_of({"prepare": raw})
    assert "prepare.source: url must start with http:// or https://" in message
    assert "'ftp://example.org/a.csv'" in message


def test_path_with_unsupported_extension() -> None:
    raw = CSV_SOURCE | {"source": {"path": "data.xlsx"}}
    assert "path must end in .csv or .parquet, got 'data.xlsx'" in error_of({"prepare": raw})


def test_sha256_rules() -> None:
    with_path = CSV_SOURCE | {"source": {"path": "a.csv", "sha256": "0" * 64}}
    assert "sha256 only applies to a url source" in error_of({"prepare": with_path})
    short = CSV_SOURCE | {"source": {"url": "https://example.org/a.csv", "sha256": "abc"}}
    assert "prepare.source.sha256: String should match pattern" in error_of({"prepare": short})


# --- cross-section ---------------------------------------------------------------------------


def test_plot_must_be_scatter_for_regression() -> None:
    message = error_of(
        {"prepare": {"source": {"bundled": "diabetes"}}, "evaluate": {"plot": "confusion"}}
    )
    assert "evaluate.plot must be 'scatter' for a regression task" in message
    assert "got 'confusion'" in message
    assert "(got {" not in message  # the whole file is not echoed back


def test_plot_must_be_confusion_for_classification() -> None:
    message = error_of({"evaluate": {"plot": "scatter"}})
    assert "evaluate.plot must be 'confusion' for a classification task" in message


def test_regression_with_scatter_is_valid() -> None:
    params = parse_params(
        {"prepare": {"source": {"bundled": "diabetes"}}, "evaluate": {"plot": "scatter"}}
    )
    assert params.prepare.resolved_task == "regression"


# --- hashes ----------------------------------------------------------------------------------


def test_model_params_hash_tracks_prepare_and_train_only() -> None:
    base = model_params_hash(Params())
    assert base == model_params_hash(parse_params({}))
    assert len(base) == 16
    assert model_params_hash(parse_params({"train": {"epochs": 3}})) != base
    assert model_params_hash(parse_params({"prepare": {"seed": 1}})) != base
    assert model_params_hash(parse_params({"export": {"latency_runs": 5}})) == base


def test_section_hash_includes_extra_strings() -> None:
    section = Params().train
    assert section_hash(section) == section_hash(Params().train)
    assert section_hash(section, "abc") != section_hash(section)


# --- gate and tune ---------------------------------------------------------------------------


def test_shipped_params_have_a_gate_and_a_search_space() -> None:
    params = load_params(REPO_ROOT / "params.yaml")
    assert params.gate.min_score == 0.8
    assert params.gate.thresholds("classification") == {"accuracy": ("min", 0.8)}
    assert params.tune.space and params.tune.resolved_metric("classification") == "val_accuracy"


def test_gate_threshold_for_the_other_task() -> None:
    message = error_of({"gate": {"max_rmse": 50}})
    assert "gate.max_rmse does not apply to a classification task" in message
    message = error_of(
        {
            "prepare": {"source": {"bundled": "diabetes"}},
            "evaluate": {"plot": "scatter"},
            "gate": {"min_accuracy": 0.8},
        }
    )
    assert "gate.min_accuracy does not apply to a regression task" in message


def test_gate_accuracy_above_one() -> None:
    assert "gate.min_accuracy: Input should be less than or equal to 1" in error_of(
        {"gate": {"min_accuracy": 80}}
    )


def test_tune_space_key_must_be_a_train_setting() -> None:
    message = error_of({"tune": {"space": {"cnn.filtres": {"choices": [[8]]}}}})
    assert (
        "tune.space.cnn.filtres: train.cnn.filtres: unknown key. Did you mean 'filters'? "
        "Allowed here: dense_units, dropout_rate, filters, kernel_size"
    ) in message


def test_tune_keys_are_single_settings_not_sections() -> None:
    message = error_of({"tune": {"candidates": [{"cnn": {"filters": [8]}}]}})
    assert "tune.candidates[0]: train.cnn: a section, not a value; set one of its keys" in message
    message = error_of({"tune": {"space": {"epochs.max": {"choices": [3]}}}})
    assert "tune.space.epochs.max: train.epochs.max: train.epochs is a value" in message


def test_train_with_changes_only_the_given_settings() -> None:
    base = TrainParams()
    changed = train_with(base, {"cnn.filters": [8], "learning_rate": 0.01})
    assert (changed.cnn.filters, changed.learning_rate) == ([8], 0.01)
    assert changed.model_dump(exclude={"cnn", "learning_rate"}) == base.model_dump(
        exclude={"cnn", "learning_rate"}
    )
    assert base.cnn.filters == [32, 64]  # the base is left as it was
    with pytest.raises(dotted.DottedKeyError, match=r"^train\.mlp\.unit: unknown key"):
        train_with(base, {"mlp.unit": [8]})


def test_tune_space_values_must_be_valid_train_values() -> None:
    message = error_of({"tune": {"space": {"cnn.dropout_rate": {"low": 0.1, "high": 1.5}}}})
    assert "tune.space.cnn.dropout_rate: train.cnn.dropout_rate: Input should be less than 1" in (
        message
    )
    message = error_of({"tune": {"candidates": [{"model": "transformer"}]}})
    assert "tune.candidates[0]: train.model" in message


@pytest.mark.parametrize(
    ("dimension", "problem"),
    [
        ({"low": 0.1}, "need low < high"),
        ({"low": 0.5, "high": 0.1}, "need low < high"),
        ({"choices": [1], "low": 0, "high": 1}, "either 'choices' or both 'low' and 'high'"),
        ({"low": 0, "high": 1, "log": True}, "a log range needs low > 0"),
        ({"choices": []}, "at least 1 item"),
    ],
)
def test_bad_search_dimensions(dimension: dict, problem: str) -> None:
    message = error_of({"tune": {"space": {"learning_rate": dimension}}})
    assert "tune.space.learning_rate" in message and problem in message


def test_tune_metric_must_fit_the_task() -> None:
    assert "tune.metric 'val_rmse' needs a regression task" in error_of(
        {"tune": {"metric": "val_rmse"}}
    )


# --- serve, deploy, monitor ------------------------------------------------------------------


def test_serving_sections_have_defaults_and_name_bad_keys() -> None:
    params = parse_params({})
    assert (params.serve.workers, params.serve.max_batch_rows) == (2, 1024)
    assert params.deploy.target == "local" and params.monitor.psi_threshold == 0.2
    message = error_of({"serve": {"model_name": "Digits_v2"}, "deploy": {"target": "k8s"}})
    assert "serve.model_name: String should match pattern" in message
    assert "deploy.target: Input should be 'local', 'docker' or 'kserve'" in message
    message = error_of({"deploy": {"kserve": {"min_replicas": 3, "max_replicas": 2}}})
    assert "max_replicas (2) is below min_replicas (3)" in message


# --- defaults: the schema is their one home ---------------------------------------------------


def leaf_keys(raw: dict, defaults: dict, prefix: str = "") -> list[str]:
    """Dotted keys of the values params.yaml sets; a schema field holding a free-form mapping
    (tune.space) or a list (route.rules) is one value."""
    keys = []
    for name, value in raw.items():
        default = defaults.get(name)
        if (
            isinstance(value, dict)
            and isinstance(default, dict)
            and value.keys() <= default.keys()
        ):
            keys += leaf_keys(value, default, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def example_marks(node, prefix: str = "") -> set[str]:
    """Dotted keys whose line in params.yaml ends in an `# example...` comment."""
    marks = set()
    for name, value in node.items():
        token = (node.ca.items.get(name) or [None, None, None])[2]
        if token is not None and token.value.startswith("# example"):
            marks.add(prefix + name)
        if hasattr(value, "ca") and hasattr(value, "items"):
            marks |= example_marks(value, f"{prefix}{name}.")
    return marks


def test_shipped_params_agree_with_the_schema_defaults() -> None:
    """params.yaml may differ from a schema default only where its line (or its section's line)
    says `# example: <why>`: the bundled digits example's own choice. Any other difference is
    drift: make the schema default and params.yaml agree."""
    from ml.tune.params_file import yaml_round_trip

    text = (REPO_ROOT / "params.yaml").read_text(encoding="utf-8")
    # Both sides as the schema reads them, so 20 and 20.0 or 1.0e-5 and 1e-05 are equal.
    shipped = parse_params(yaml.safe_load(text)).model_dump(mode="json")
    defaults = Params().model_dump(mode="json")
    keys = leaf_keys(yaml.safe_load(text), defaults)
    assert {"train.epochs", "train.early_stopping.patience", "deploy.docker.port"} <= set(keys)
    differ = {key for key in keys if dotted.get(shipped, key) != dotted.get(defaults, key)}
    marks = example_marks(yaml_round_trip().load(text))

    def marked(key: str) -> bool:
        parts = key.split(".")
        return any(".".join(parts[:depth]) in marks for depth in range(1, len(parts) + 1))

    drift = {key: (dotted.get(shipped, key), dotted.get(defaults, key)) for key in differ}
    unmarked = {key: values for key, values in drift.items() if not marked(key)}
    assert not unmarked, f"params.yaml vs schema default, not marked `# example`: {unmarked}"
    stale = {mark for mark in marks if not any(f"{key}.".startswith(f"{mark}.") for key in differ)}
    assert not stale, f"marked `# example` but equal to the schema default: {sorted(stale)}"
    assert "train.learning_rate" in marks  # the comment reader finds the marks


# --- defaults that follow the data and the model ------------------------------------------------

REGRESSION_CSV = {
    "source": {"path": "data/raw/Fuel Consumption.csv"},
    "task": "regression",
    "target": "litres_per_100km",
    "numeric_features": ["engine"],
}


def test_defaults_follow_a_regression_file() -> None:
    params = parse_params({"prepare": REGRESSION_CSV, "train": {"model": "mlp"}})
    assert params.evaluate.plot == "scatter"
    assert params.serve.model_name == "fuel-consumption"  # from the file's name
    assert set(params.tune.space) == {"learning_rate", "mlp.units", "mlp.dropout_rate"}


def test_defaults_follow_a_bundled_set() -> None:
    params = parse_params({"prepare": {"source": {"bundled": "wine"}}, "train": {"model": "mlp"}})
    assert (params.evaluate.plot, params.serve.model_name) == ("confusion", "wine")
    params = parse_params({})
    assert params.serve.model_name == "digits" and "cnn.filters" in params.tune.space


def test_a_value_the_user_set_wins() -> None:
    params = parse_params(
        {
            "prepare": REGRESSION_CSV,
            "train": {"model": "mlp"},
            "evaluate": {"plot": "scatter"},
            "serve": {"model_name": "fuel"},
            "tune": {"space": {"epochs": {"choices": [3, 5]}}},
        }
    )
    assert params.serve.model_name == "fuel"
    assert list(params.tune.space) == ["epochs"]
    only_candidates = parse_params({"tune": {"candidates": [{"epochs": 3}]}})
    assert only_candidates.tune.space == {}  # candidates alone mean: try just these


def test_gate_min_score_is_the_task_score() -> None:
    classification = parse_params({"gate": {"min_score": 0.9}})
    assert classification.gate.thresholds("classification") == {"accuracy": ("min", 0.9)}
    regression = parse_params(
        {"prepare": REGRESSION_CSV, "train": {"model": "mlp"}, "gate": {"min_score": 0.5}}
    )
    assert regression.gate.thresholds("regression") == {"r2": ("min", 0.5)}
    both = parse_params({"gate": {"min_score": 0.5, "min_accuracy": 0.9}})
    assert both.gate.thresholds("classification") == {"accuracy": ("min", 0.9)}  # its own wins


def test_the_search_space_of_an_own_model_is_around_its_hyperparameters(tmp_path, monkeypatch):
    (tmp_path / "net.py").write_text("def build(shape, task, outputs, hp):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    train = {
        "model": "net.py:build",
        "hyperparameters": {"units": 64, "dropout_rate": 0.2, "layers": [32, 16], "act": "relu"},
    }
    space = parse_params({"train": train}).tune.space
    assert space["hyperparameters.units"].choices == [32, 64, 128]
    assert (
        space["hyperparameters.dropout_rate"].low,
        space["hyperparameters.dropout_rate"].high,
    ) == (
        0.1,
        0.4,
    )
    assert space["hyperparameters.layers"].choices == [[16, 8], [32, 16], [64, 32]]
    assert "hyperparameters.act" not in space  # text is not searched by default
    assert "learning_rate" in space


def test_augmentation_needs_an_image_folder() -> None:
    message = error_of({"train": {"augment": {"flip": True}}})
    assert "train.augment applies to an image-folder source" in message
    assert "less than or equal to 0.5" in error_of({"train": {"augment": {"shift": 0.8}}})
