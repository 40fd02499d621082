"""The trials of an `ml tune` study as a ranked table: what metrics/tune.json holds and the
report shows."""

from __future__ import annotations

import math

from ml.errors import UserError

STATE_ORDER = {"complete": 0, "pruned": 1, "fail": 2}


def ranked(study, metric: str, maximize: bool) -> dict:
    """Completed trials best first, then pruned ones by their last value, then failed ones."""
    from optuna.trial import TrialState

    rows = []
    for trial in study.get_trials(deepcopy=False):
        state = {TrialState.COMPLETE: "complete", TrialState.PRUNED: "pruned"}.get(
            trial.state, "fail" if trial.state == TrialState.FAIL else None
        )
        if state is None:
            continue  # still queued or running
        value = trial.value if state == "complete" else None
        if state == "pruned" and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        rows.append(
            {
                "number": trial.number,
                "state": state,
                "value": value,
                "epochs": trial.user_attrs.get("epochs"),
                "seconds": trial.user_attrs.get("seconds"),
                "overrides": trial.user_attrs.get("overrides", {}),
                # Index into tune.candidates for a fixed candidate, None for a sampled trial.
                "candidate": trial.user_attrs.get("candidate"),
                "mlflow_run_id": trial.user_attrs.get("mlflow_run_id"),
            }
        )
    sign = -1 if maximize else 1
    rows.sort(
        key=lambda r: (
            STATE_ORDER[r["state"]],
            sign * r["value"] if r["value"] is not None and math.isfinite(r["value"]) else 0,
        )
    )
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    completed = [row for row in rows if row["state"] == "complete"]
    if not completed:
        raise UserError(
            f"no trial completed within the budget ({len(rows)} pruned or failed): raise "
            "tune.trials or tune.timeout_minutes, or widen tune.space"
        )
    best = {k: completed[0][k] for k in ("number", "value", "overrides", "mlflow_run_id")}
    direction = "maximize" if maximize else "minimize"
    return {"metric": metric, "direction": direction, "best": best, "trials": rows}
