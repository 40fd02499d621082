"""Ranking the trials of a study for metrics/tune.json and the report."""

from __future__ import annotations

from typing import Literal

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from ml.errors import UserError
from ml.tune import trials_table


def study_with(*trials, direction: Literal["minimize", "maximize"] = "maximize") -> optuna.Study:
    study = optuna.create_study(direction=direction)
    for state, value, steps in trials:
        study.add_trial(
            create_trial(
                state=state,
                value=value if state == TrialState.COMPLETE else None,
                params={"lr": 0.01},
                distributions={"lr": FloatDistribution(0.001, 0.1)},
                intermediate_values=steps,
                user_attrs={"overrides": {"learning_rate": 0.01}, "epochs": len(steps)},
            )
        )
    return study


def test_completed_best_first_then_pruned_then_failed() -> None:
    study = study_with(
        (TrialState.FAIL, None, {}),
        (TrialState.COMPLETE, 0.91, {1: 0.9, 2: 0.91}),
        (TrialState.PRUNED, None, {1: 0.3, 2: 0.35}),
        (TrialState.COMPLETE, 0.97, {1: 0.95, 2: 0.97}),
    )
    table = trials_table.ranked(study, "val_accuracy", maximize=True)
    assert [(r["rank"], r["number"], r["state"]) for r in table["trials"]] == [
        (1, 3, "complete"),
        (2, 1, "complete"),
        (3, 2, "pruned"),
        (4, 0, "fail"),
    ]
    assert table["trials"][2]["value"] == 0.35  # a pruned trial shows its last value
    assert table["best"]["number"] == 3 and table["best"]["value"] == 0.97
    assert table["direction"] == "maximize"


def test_lower_is_better_for_a_loss() -> None:
    study = study_with(
        (TrialState.COMPLETE, 0.4, {1: 0.4}),
        (TrialState.COMPLETE, 0.2, {1: 0.2}),
        direction="minimize",
    )
    table = trials_table.ranked(study, "val_loss", maximize=False)
    assert table["best"]["number"] == 1


def test_no_completed_trial_is_an_error() -> None:
    study = study_with((TrialState.PRUNED, None, {1: 0.1}), (TrialState.FAIL, None, {}))
    with pytest.raises(
        UserError, match=r"no trial completed within the budget \(2 pruned or failed\)"
    ):
        trials_table.ranked(study, "val_accuracy", maximize=True)
