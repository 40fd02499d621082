"""Drift of the served inputs: the rows the service sampled (ml/serve/sampling.py) binned with
the reference edges saved at training time (ml/reference.py), one PSI per input column; for a
model trained on an image folder, one PSI per summary statistic of the images
(ml/image_summary.py), whatever their size."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import orjson

from ml import reference
from ml.config import MonitorParams

SAMPLE_GLOB = "inputs-*.jsonl*"  # as written by ml.serve.sampling
CHUNK = 64  # sampled rows converted to the reference's columns at a time


@dataclasses.dataclass(frozen=True)
class DriftResult:
    rows: int
    enough: bool
    drifted: bool
    columns: list[dict]  # name, psi, drifted; highest PSI first
    described: str = "input columns"  # what the columns are, for the report

    @property
    def drifted_columns(self) -> list[dict]:
        return [column for column in self.columns if column["drifted"]]


def load_samples(
    directory: Path, version: str, window: int, stats: dict | None = None
) -> np.ndarray:
    """The newest `window` sampled rows that `version` served, oldest first, as the columns of
    the reference `stats` (ml.reference.columns_of): the rows as sampled, or for an image model
    each image's summary, computed CHUNK rows at a time while reading, so the monitor never holds
    a window of whole images."""
    times: list[float] = []
    chunks: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    # Images are summarized from float32, as the service decoded them: half the memory per chunk.
    dtype = np.float32 if stats and stats.get("kind") == reference.IMAGE_SUMMARY else np.float64

    def convert() -> None:
        if pending:
            rows = np.stack(pending)
            chunks.append(reference.columns_of(stats, rows) if stats else rows)
            pending.clear()

    for path in directory.glob(SAMPLE_GLOB):
        with path.open("rb") as handle:  # a line at a time: a file of images is large
            for line in handle:
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a line cut short while the service was writing it
                if record.get("version") == version:
                    times.append(record["t"])
                    pending.append(np.asarray(record["x"], dtype=dtype).ravel())
                    if len(pending) == CHUNK:
                        convert()
    convert()
    if not times:
        return np.empty((0, 0))
    newest = np.argsort(times, kind="stable")[-window:]
    return np.concatenate(chunks)[newest]


def compare(stats: dict, rows: np.ndarray, settings: MonitorParams) -> DriftResult:
    columns = stats["columns"]
    described = (
        "image statistics" if stats.get("kind") == reference.IMAGE_SUMMARY else "input columns"
    )
    if len(rows) < settings.min_samples:
        return DriftResult(len(rows), False, False, [], described)
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
    return DriftResult(len(rows), True, share >= settings.drift_share, results, described)


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
        f"{result.described} have PSI ≥ {settings.psi_threshold} (drift when at least "
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
