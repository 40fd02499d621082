"""Loading `prepare.source`: bundled scikit-learn sets, CSV/Parquet files, and cached URLs."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.config import PrepareParams
from ml.data.sources import DataError, load_bundled, load_source, read_table

# --- bundled ---------------------------------------------------------------------------------


def test_digits_is_an_8x8_image_set() -> None:
    raw = load_bundled("digits")
    assert raw.task == "classification"
    assert raw.target == "digit"
    assert raw.image_shape == (8, 8, 1)
    assert raw.frame.shape == (1797, 65)
    assert len(raw.numeric_features) == 64
    assert raw.categorical_features == []
    assert sorted(raw.frame["digit"].unique()) == list(range(10))
    pixels = raw.frame[raw.numeric_features]
    assert pixels.min().min() == 0
    assert pixels.max().max() == 16  # prepare divides by DIGITS_MAX to reach [0, 1]


@pytest.mark.parametrize(
    ("name", "target", "labels"),
    [
        ("iris", "species", {"setosa", "versicolor", "virginica"}),
        ("wine", "cultivar", {"class_0", "class_1", "class_2"}),
        ("breast_cancer", "diagnosis", {"malignant", "benign"}),
    ],
)
def test_bundled_classification_sets_have_readable_labels(
    name: str, target: str, labels: set[str]
) -> None:
    raw = load_bundled(name)
    assert raw.task == "classification"
    assert raw.target == target
    assert set(raw.frame[target]) == labels
    assert raw.image_shape is None
    assert target not in raw.numeric_features
    assert raw.origin == f"sklearn.datasets.load_{name}"


def test_diabetes_is_regression_on_a_numeric_target() -> None:
    raw = load_bundled("diabetes")
    assert raw.task == "regression"
    assert raw.target == "progression"
    assert pd.api.types.is_float_dtype(raw.frame["progression"])
    assert len(raw.numeric_features) == 10


def test_load_source_for_bundled_ignores_the_cache(tmp_path: Path) -> None:
    raw = load_source(PrepareParams(source={"bundled": "iris"}), download_cache=tmp_path / "c")
    assert raw.frame.shape == (150, 5)
    assert not (tmp_path / "c").exists()


# --- files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["people.csv", "people.parquet"])
def test_file_source_carries_the_declared_columns(
    people, write_table, params_for, tmp_path: Path, name: str
) -> None:
    path = write_table(people, name)
    raw = load_source(params_for(path), download_cache=tmp_path / "cache")
    assert raw.origin == str(path)
    assert (raw.target, raw.task) == ("label", "classification")
    assert raw.numeric_features == ["row_id", "age"]
    assert raw.categorical_features == ["city"]
    pd.testing.assert_frame_equal(raw.frame, people)


def test_parquet_index_is_renumbered(people, write_table) -> None:
    # A stored index that repeats (or is text) would break the split and the row numbers
    # quoted in error messages; rows are numbered 0..n-1 as for a CSV.
    path = write_table(people.set_axis([7] * len(people)), "dup.parquet")
    frame = read_table(path)
    assert list(frame.index) == list(range(len(people)))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data file not found: .*absent\.csv"):
        read_table(tmp_path / "absent.csv")


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"data file is empty: .*empty\.csv"):
        read_table(path)


def test_blank_csv_has_no_columns(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n\n")
    with pytest.raises(DataError, match=r"data file has no columns: .*blank\.csv"):
        read_table(path)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match=r"cannot read .*broken\.parquet"):
        read_table(path)


def test_header_only_csv_reads_as_an_empty_table(tmp_path: Path) -> None:
    # Not an error here: schema.validate rejects it with "the table has no rows".
    path = tmp_path / "header.csv"
    path.write_text("age,city,label\n")
    frame = read_table(path)
    assert list(frame.columns) == ["age", "city", "label"]
    assert frame.empty


# --- urls ------------------------------------------------------------------------------------


def url_params(url: str, sha256: str | None = None) -> PrepareParams:
    source = {"url": url} | ({"sha256": sha256} if sha256 else {})
    return PrepareParams.model_validate(
        {
            "source": source,
            "task": "classification",
            "target": "label",
            "numeric_features": ["row_id", "age"],
            "categorical_features": ["city"],
        }
    )


def test_url_is_downloaded_once_and_reused_offline(people, file_server, tmp_path: Path) -> None:
    people.to_csv(file_server.root / "people.csv", index=False)
    url = f"{file_server.url}/people.csv"
    cache = tmp_path / "cache"

    first = load_source(url_params(url), download_cache=cache)
    assert first.origin == url
    pd.testing.assert_frame_equal(first.frame, people)
    cached = list(cache.iterdir())
    assert len(cached) == 1
    assert cached[0].name.endswith("-people.csv")

    file_server.stop()  # from here on the URL is unreachable
    second = load_source(url_params(url), download_cache=cache)
    pd.testing.assert_frame_equal(second.frame, people)
    assert list(cache.iterdir()) == cached


def test_url_with_matching_sha256_is_reused_offline(people, file_server, tmp_path: Path) -> None:
    path = file_server.root / "people.csv"
    people.to_csv(path, index=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    params = url_params(f"{file_server.url}/people.csv", sha256=digest)
    cache = tmp_path / "cache"

    assert len(load_source(params, download_cache=cache).frame) == len(people)
    file_server.stop()
    assert len(load_source(params, download_cache=cache).frame) == len(people)


def test_sha256_mismatch_is_a_clear_error_and_keeps_nothing(
    people, file_server, tmp_path: Path
) -> None:
    people.to_csv(file_server.root / "people.csv", index=False)
    url = f"{file_server.url}/people.csv"
    cache = tmp_path / "cache"
    with pytest.raises(DataError) as caught:
        load_source(url_params(url, sha256="0" * 64), download_cache=cache)
    message = str(caught.value)
    assert f"download of {url} does not match prepare.source.sha256" in message
    assert "0" * 64 in message
    assert not cache.exists() or not any(cache.iterdir())


def test_unreachable_url_names_the_url(closed_port: int, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port}/people.csv"
    with pytest.raises(DataError) as caught:
        load_source(url_params(url), download_cache=tmp_path / "cache")
    message = str(caught.value)
    assert f"cannot download {url}: the host is unreachable (offline?)" in message
    assert "prepare.source.path" in message  # says how to work around it


def test_missing_remote_file_names_the_url_and_status(file_server, tmp_path: Path) -> None:
    url = f"{file_server.url}/absent.csv"
    with pytest.raises(DataError, match=re.escape(f"cannot download {url}: 404")):
        load_source(url_params(url), download_cache=tmp_path / "cache")


def test_url_must_name_a_csv_or_parquet_file(tmp_path: Path) -> None:
    # Checked before any network access: the host below does not exist.
    with pytest.raises(DataError, match=r"url must point to a \.csv or \.parquet file"):
        load_source(url_params("http://127.0.0.1:9/data.json"), download_cache=tmp_path)


def test_same_file_name_from_two_urls_does_not_collide(file_server, tmp_path: Path) -> None:
    for folder, value in (("a", 1.0), ("b", 2.0)):
        (file_server.root / folder).mkdir()
        frame = pd.DataFrame(
            {"row_id": [0.0], "age": [value], "city": ["Paris"], "label": ["yes"]}
        )
        frame.to_csv(file_server.root / folder / "data.csv", index=False)
    cache = tmp_path / "cache"
    ages = [
        load_source(url_params(f"{file_server.url}/{folder}/data.csv"), cache).frame["age"][0]
        for folder in ("a", "b")
    ]
    assert ages == [1.0, 2.0]
    assert len(list(cache.iterdir())) == 2


def test_url_parquet_is_read_as_parquet(people, file_server, tmp_path: Path) -> None:
    people.to_parquet(file_server.root / "people.parquet")
    raw = load_source(url_params(f"{file_server.url}/people.parquet"), tmp_path / "cache")
    assert np.array_equal(raw.frame["row_id"].to_numpy(), people["row_id"].to_numpy())
