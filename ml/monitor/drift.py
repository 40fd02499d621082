"""Drift of the served inputs: the rows the service sampled (ml/serve/sampling.py) binned with
the reference edges saved at training time (ml/reference.py), one PSI per input column."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import orjson

from ml import reference
from ml.config import MonitorParams

SAMPLE_GLOB = "inputs-*.jsonl*"  # as written by ml.serve.sampling


@dataclasses.dataclass(frozen=True)
class DriftResult:
    rows: int
    enough: bool
    drifted: bool
    columns: list[dict]  # name, psi, drifted; highest PSI first

    @property
    def drifted_columns(self) -> list[dict]:
        return [column for column in self.columns if column["drifted"]]


def load_samples(directory: Path, version: str, window: int) -> np.ndarray:
    """The newest `window` sampled rows that `version` served, oldest first."""
    records = []
    for path in directory.glob(SAMPLE_GLOB):
        for line in path.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut short while the service was writing it
            if record.get("version") == version:
                records.append((record["t"], record["x"]))
    records.sort(key=lambda item: item[0])
    rows = [x for _, x in records[-window:]]
    if not rows:
        return np.empty((0, 0))
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


def compare(stats: dict, rows: np.ndarray, settings: MonitorParams) -> DriftResult:
    columns = stats["columns"]
    if len(rows) < settings.min_samples:
        return DriftResult(len(rows), False, False, [])
    if rows.shape[1] != len(columns):
        raise ValueError(f"samples have {rows.shape[1]} columns, the reference {len(columns)}")
    results = []
    for column, values in zip(columns, rows.T, strict=True):
        actual = reference.bin_shares(values, column["edges"])
        psi = reference.population_stability_index(column["shares"], actual)
        results.append(
            {
                "name": column["name"],
                "psi": round(psi, 4),
                "drifted": psi >= settings.psi_threshold,
            }
        )
    results.sort(key=lambda column: column["psi"], reverse=True)
    share = sum(column["drifted"] for column in results) / len(results)
    return DriftResult(len(rows), True, share >= settings.drift_share, results)


def markdown(result: DriftResult, settings: MonitorParams, model: str, version: str) -> str:
    if not result.enough:
        return (
            f"Drift of {model} ({version}): {result.rows} sampled rows, fewer than "
            f"monitor.min_samples ({settings.min_samples}); no verdict yet.\n"
        )
    drifted = result.drifted_columns
    verdict = "drift" if result.drifted else "no drift"
    lines = [
        f"Drift of {model} ({version}): **{verdict}**. {len(drifted)} of {len(result.columns)} "
        f"input columns have PSI ≥ {settings.psi_threshold} (drift when at least "
        f"{settings.drift_share:.0%} do), over the latest {result.rows} sampled rows.",
        "",
        "| column | PSI | drifted |",
        "|---|---:|---|",
    ]
    for column in result.columns[:15]:
        lines.append(
            f"| {column['name']} | {column['psi']:.3f} | {'yes' if column['drifted'] else ''} |"
        )
    if len(result.columns) > 15:
        lines.append(f"| … {len(result.columns) - 15} more, lower | | |")
    return "\n".join(lines) + "\n"
