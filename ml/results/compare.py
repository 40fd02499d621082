"""This commit's metrics against the base commit's, each judged by its direction."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ml.config import CLASSIFICATION_METRICS, HIGHER_IS_BETTER, REGRESSION_METRICS
from ml.results.run import RunResults

DECIMALS = 4  # metrics are shown, and called unchanged, at this many decimals


@dataclass(frozen=True)
class MetricChange:
    name: str
    head: float | None
    base: float | None
    higher_is_better: bool | None  # None: a figure without a better direction (seconds)
    decimals: int = DECIMALS

    @property
    def delta(self) -> float | None:
        if self.head is None or self.base is None:
            return None
        return self.head - self.base

    @property
    def verdict(self) -> str:
        """better | worse | same | changed (no better direction) | new (no base value) |
        n/a (no value here, or not finite)."""
        if self.head is None or not math.isfinite(self.head):
            return "n/a"
        if self.base is None or not math.isfinite(self.base):
            return "new"
        delta = self.head - self.base
        if round(delta, self.decimals) == 0:
            return "same"
        if self.higher_is_better is None:
            return "changed"
        improved = (delta > 0) == self.higher_is_better
        return "better" if improved else "worse"


def primary_metric(task: str) -> str:
    """The one metric that says better or worse at a glance, and that max_regression guards."""
    return "accuracy" if task == "classification" else "rmse"


def headline_metrics(task: str) -> tuple[str, ...]:
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def compare(head: RunResults, base: RunResults | None) -> list[MetricChange]:
    """Test metrics first (primary metric leading), then the best validation loss and the
    training time."""
    task = head.task or "classification"
    base = base or RunResults()
    changes = [
        MetricChange(
            name,
            number((head.evaluate or {}).get(name)),
            number((base.evaluate or {}).get(name)) if base.task in (None, task) else None,
            HIGHER_IS_BETTER[name],
        )
        for name in headline_metrics(task)
    ]
    changes.append(
        MetricChange(
            "val_loss (best epoch)",
            number(((head.train or {}).get("best") or {}).get("val_loss")),
            number(((base.train or {}).get("best") or {}).get("val_loss")),
            False,
        )
    )
    changes.append(
        MetricChange(
            "train seconds",
            number((head.train or {}).get("train_seconds")),
            number((base.train or {}).get("train_seconds")),
            None,
            decimals=1,
        )
    )
    return changes


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def overall(changes: list[MetricChange], task: str) -> MetricChange:
    wanted = primary_metric(task)
    return next(change for change in changes if change.name == wanted)
