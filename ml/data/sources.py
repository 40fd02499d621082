"""Load the raw table named by `prepare.source`: a bundled scikit-learn set, a file, or a URL."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from ml.config import PrepareParams
from ml.datasets import BUNDLED_DATASETS
from ml.errors import UserError

log = logging.getLogger(__name__)

DOWNLOAD_CACHE = Path("data/downloads")

DIGITS_MAX = BUNDLED_DATASETS["digits"].pixel_max  # prepare scales the pixels by it


class DataError(UserError, ValueError):
    """The data cannot be used as declared; the message says what is wrong and where."""


@dataclass(frozen=True)
class RawData:
    frame: pd.DataFrame
    target: str
    task: str
    numeric_features: list[str]
    categorical_features: list[str]
    origin: str
    image_shape: tuple[int, ...] | None = None
    csv_path: Path | None = None  # a CSV file: errors name its line numbers, not row indexes


def load_source(params: PrepareParams, download_cache: Path = DOWNLOAD_CACHE) -> RawData:
    source = params.source
    if source.bundled:
        return load_bundled(source.bundled)
    if source.url:
        path = download(source.url, source.sha256, download_cache)
        origin = source.url
    elif source.path:
        path = Path(source.path)
        origin = str(path)
    else:
        raise UserError("prepare.source: set one of bundled, path or url")
    if not params.target or not params.task:
        raise UserError("prepare: a file source needs `target` and `task`")
    frame = read_table(path)
    return RawData(
        frame=frame,
        target=params.target,
        task=params.task,
        numeric_features=list(params.numeric_features),
        categorical_features=list(params.categorical_features),
        origin=origin,
        csv_path=path if path.suffix == ".csv" else None,
    )


def csv_line_numbers(path: Path, rows: list[int]) -> dict[int, int]:
    """{row index: the file's line number where that row starts}, as pandas numbers the rows
    of a CSV: the header is line 1, blank lines are skipped, a quoted value may span lines."""
    import csv

    wanted, found = set(rows), {}
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle)
        next(reader, None)  # the header
        index, previous_end = 0, reader.line_num
        for record in reader:
            if record:  # pandas skips blank lines: they are no row
                if index in wanted:
                    found[index] = previous_end + 1
                    if len(found) == len(wanted):
                        break
                index += 1
            previous_end = reader.line_num
    return found


def load_bundled(name: str) -> RawData:
    from sklearn import datasets

    spec = BUNDLED_DATASETS[name]
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.rename(columns={"target": spec.target})
    if spec.named_classes:
        # Readable class labels ("setosa") rather than codes, so they reach the ONNX metadata.
        labels = dict(enumerate(str(label) for label in bunch.target_names))
        frame[spec.target] = frame[spec.target].map(labels)
    features = [column for column in frame.columns if column != spec.target]
    return RawData(
        frame=frame,
        target=spec.target,
        task=spec.task,
        numeric_features=features,
        categorical_features=[],
        origin=f"sklearn.datasets.load_{name}",
        image_shape=spec.image_shape,
    )


def read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"data file is empty: {path}")
    try:
        if path.suffix == ".parquet":
            # Parquet may carry a stored pandas index (duplicated, or text): the split and the
            # row numbers in error messages rely on rows being numbered 0..n-1, as for a CSV.
            return pd.read_parquet(path).reset_index(drop=True)
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file has no columns: {path}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


def download(url: str, sha256: str | None, cache: Path) -> Path:
    """Fetch `url` once into `cache`; later runs reuse the file without touching the network."""
    import pooch
    import requests

    name = Path(urlparse(url).path).name or "download"
    if not name.endswith((".csv", ".parquet")):
        raise DataError(f"url must point to a .csv or .parquet file, got {url}")
    # The URL's hash in the name keeps two files called data.csv from different hosts apart.
    fname = f"{hashlib.sha256(url.encode()).hexdigest()[:12]}-{name}"
    cached = cache / fname
    if cached.exists() and sha256 is None:
        log.info("Using cached download %s", cached)
        return cached
    log.info("Fetching %s (verified against the cache when sha256 is set)", url)
    try:
        return Path(
            pooch.retrieve(
                url,
                known_hash=f"sha256:{sha256}" if sha256 else None,
                fname=fname,
                path=cache,
                progressbar=False,
            )
        )
    except requests.exceptions.ConnectionError as exc:
        raise DataError(
            f"cannot download {url}: the host is unreachable (offline?). "
            f"Download it by hand and set prepare.source.path instead. ({exc.__class__.__name__})"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise DataError(f"cannot download {url}: {exc}") from None
    except ValueError as exc:  # pooch: hash mismatch
        raise DataError(f"download of {url} does not match prepare.source.sha256: {exc}") from None
