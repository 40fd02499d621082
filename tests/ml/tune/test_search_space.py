"""The search space: Optuna suggestions as `train` settings, the checks that refuse a search
that cannot change anything, and the study's identity."""

from __future__ import annotations

import optuna
import pytest

from ml.config import TrainParams, parse_params
from ml.dotted import DottedKeyError
from ml.errors import UserError
from ml.tune import search_space

SEARCH = {
    "train": {"model": "mlp", "epochs": 1, "learning_rate": 0.001, "mlp": {"units": [4]}},
    "tune": {
        "trials": 4,
        "candidates": [{"mlp.units": [32], "epochs": 5}],
        "space": {
            "mlp.units": {"choices": [[32], [64]]},
            "learning_rate": {"low": 0.003, "high": 0.01, "log": True},
        },
    },
}


def search(**changes: dict) -> dict:
    """SEARCH with some sections changed (one level deep)."""
    return {name: {**section, **changes.get(name, {})} for name, section in SEARCH.items()}


# --- suggest ---------------------------------------------------------------------------------


def test_suggest_decodes_list_choices_and_rounds_floats() -> None:
    params = parse_params(
        {
            "tune": {
                "space": {
                    "cnn.filters": {"choices": [[16, 32], [32, 64]]},
                    "learning_rate": {"low": 0.001, "high": 0.01, "log": True},
                    "cnn.dense_units": {"low": 32, "high": 256},
                }
            }
        }
    )
    trial = optuna.trial.FixedTrial(
        {"cnn.filters": "[32, 64]", "learning_rate": 0.0031234567, "cnn.dense_units": 100}
    )
    overrides = search_space.suggest(trial, params.tune.space)
    assert overrides == {"cnn.filters": [32, 64], "learning_rate": 0.00312, "cnn.dense_units": 100}
    settings = search_space.train_params(params.train, overrides)
    assert settings.cnn.filters == [32, 64] and settings.learning_rate == 0.00312


def test_suggest_keeps_scalar_choices_and_integer_ranges_exact() -> None:
    space = {"model": {"choices": ["cnn", "mlp"]}, "epochs": {"low": 2, "high": 9}}
    params = parse_params({"tune": {"space": space}})
    trial = optuna.trial.FixedTrial({"model": '"mlp"', "epochs": 7})
    assert search_space.suggest(trial, params.tune.space) == {"model": "mlp", "epochs": 7}


def test_suggest_samples_within_the_ranges_of_a_real_study() -> None:
    space = parse_params(search()).tune.space
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(5):
        overrides = search_space.suggest(study.ask(), space)
        assert overrides["mlp.units"] in ([32], [64])
        assert 0.003 <= overrides["learning_rate"] <= 0.01


# --- train_params ------------------------------------------------------------------------------


def test_train_params_change_only_the_sampled_settings() -> None:
    base = parse_params(search()).train
    settings = search_space.train_params(base, {"mlp.units": [64], "learning_rate": 0.005})
    assert (settings.mlp.units, settings.learning_rate) == ([64], 0.005)
    assert (settings.epochs, settings.model) == (base.epochs, base.model)
    assert base.mlp.units == [4]


def test_train_params_refuse_a_key_that_is_not_a_setting() -> None:
    with pytest.raises(DottedKeyError, match=r"^train\.mlp\.unit: unknown key\. Did you mean"):
        search_space.train_params(TrainParams(), {"mlp.unit": [8]})


# --- check_searchable --------------------------------------------------------------------------


def test_nothing_to_search_is_an_error() -> None:
    with pytest.raises(UserError, match="no `space` and no `candidates`"):
        search_space.check_searchable(parse_params({"tune": {"space": {}}}).tune, TrainParams())


def test_candidates_alone_are_a_search() -> None:
    params = parse_params({"tune": {"candidates": [{"epochs": 3}]}})
    search_space.check_searchable(params.tune, params.train)


def test_settings_of_a_model_no_trial_trains_are_refused() -> None:
    params = parse_params(
        {"train": {"model": "mlp"}, "tune": {"space": {"cnn.filters": {"choices": [[8]]}}}}
    )
    with pytest.raises(UserError, match=r"'cnn\.filters' has no effect, no trial trains a 'cnn'"):
        search_space.check_searchable(params.tune, params.train)
    params = parse_params(
        {
            "train": {"model": "mlp"},
            "tune": {
                "space": {
                    "model": {"choices": ["mlp", "cnn"]},
                    "cnn.filters": {"choices": [[8]]},
                }
            },
        }
    )
    search_space.check_searchable(params.tune, params.train)


def test_a_candidate_that_trains_the_other_model_makes_its_settings_count() -> None:
    params = parse_params(
        {
            "train": {"model": "mlp"},
            "tune": {"candidates": [{"model": "cnn", "cnn.filters": [8]}]},
        }
    )
    search_space.check_searchable(params.tune, params.train)


# --- study_name --------------------------------------------------------------------------------


def test_study_survives_writing_the_best_values_back() -> None:
    before = search_space.study_name(parse_params(search()), "data-1")
    # What writing a winner back does: searched keys change, by the space or a candidate.
    written = search(train={"mlp": {"units": [64]}, "learning_rate": 0.005, "epochs": 5})
    assert search_space.study_name(parse_params(written), "data-1") == before
    bigger = search(tune={"trials": 10, "timeout_minutes": 60})  # more budget, same study
    assert search_space.study_name(parse_params(bigger), "data-1") == before


@pytest.mark.parametrize(
    "changed",
    [
        search(train={"batch_size": 16}),  # another starting point
        search(tune={"seed": 7}),  # another sampler
        search(tune={"space": {"mlp.units": {"choices": [[8]]}}}),  # another space
    ],
)
def test_a_different_search_is_a_different_study(changed: dict) -> None:
    before = search_space.study_name(parse_params(search()), "data-1")
    assert search_space.study_name(parse_params(changed), "data-1") != before


def test_other_data_is_a_different_study() -> None:
    params = parse_params(search())
    assert search_space.study_name(params, "data-1") != search_space.study_name(params, "data-2")
    assert search_space.study_name(params, "data-1").startswith("tune-")
