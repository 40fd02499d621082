"""prepare: validate, split and encode the declared source; write data/prepared/ or nothing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.config import PrepareParams
from ml.data.images import ImageError
from ml.data.sources import DataError
from ml.io import load_split, read_json
from ml.prepare import SPLITS, class_labels, minimum_rows_per_class, prepare


def load_all(out: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: load_split(out, name) for name in SPLITS}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def imbalanced(rows: int = 200, share_b: float = 0.3) -> pd.DataFrame:
    """`rows` rows, a share `share_b` of them labelled b, the rest a; shuffled."""
    rng = np.random.default_rng(1)
    labels = np.array(["b"] * int(rows * share_b) + ["a"] * (rows - int(rows * share_b)))
    return pd.DataFrame(
        {
            "row_id": np.arange(rows, dtype=float),
            "age": rng.normal(40, 10, rows).round(),
            "city": rng.choice(["Paris", "Lyon"], rows),
            "label": rng.permutation(labels),
        }
    )


# --- bundled ---------------------------------------------------------------------------------


def test_digits_become_8x8x1_images_scaled_to_unit_range(tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    dataset = prepare(PrepareParams(), out)
    splits = load_all(out)
    assert dataset["input_kind"] == "image"
    assert dataset["input_shape"] == [8, 8, 1]
    assert dataset["class_labels"] == [str(digit) for digit in range(10)]
    assert sum(dataset["rows"].values()) == 1797
    for name, (x, y) in splits.items():
        assert x.shape == (dataset["rows"][name], 8, 8, 1)
        assert x.dtype == np.float32
        assert y.dtype == np.int64
        assert x.min() == 0.0
        assert x.max() == 1.0
    assert set(splits["test"][1]) == set(range(10))


def test_bundled_regression(tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    dataset = prepare(PrepareParams(source={"bundled": "diabetes"}), out)
    assert dataset["task"] == "regression"
    assert dataset["class_labels"] is None
    assert dataset["input_shape"] == [10]
    _, y = load_split(out, "train")
    assert y.dtype == np.float32
    assert 25 <= y.min() < y.max() <= 346  # disease progression, in the data set's units


# --- own files -------------------------------------------------------------------------------


def test_csv_dataset_json_describes_the_data(people, write_table, params_for, tmp_path) -> None:
    path = write_table(people)
    out = tmp_path / "prepared"
    dataset = prepare(params_for(path), out)
    assert read_json(out / "dataset.json") == dataset
    assert sorted(p.name for p in out.iterdir()) == [
        "dataset.json",
        "test.npz",
        "train.npz",
        "validation.npz",
    ]
    cities = sorted(people["city"].unique())
    names = ["row_id", "age", *(f"city={city}" for city in cities)]
    assert names[2:] == ["city=Lyon", "city=Nice", "city=Paris"]
    assert dataset["task"] == "classification"
    assert dataset["input_kind"] == "tabular"
    assert dataset["input_shape"] == [5]
    assert dataset["origin"] == str(path)
    assert dataset["target"] == "label"
    assert dataset["class_labels"] == ["no", "yes"]
    assert dataset["feature_names"] == names
    assert dataset["encoding"]["encoded_columns"] == names
    assert dataset["encoding"]["categorical"][0]["categories"] == cities
    assert dataset["rows"] == {"train": 42, "validation": 9, "test": 9}
    for name, (x, y) in load_all(out).items():
        assert x.shape == (dataset["rows"][name], 5)
        assert x.dtype == np.float32
        assert set(y) <= {0, 1}
        # One-hot block: exactly one city per row.
        np.testing.assert_array_equal(x[:, 2:].sum(axis=1), 1.0)


def test_labels_match_the_rows(people, write_table, params_for, tmp_path) -> None:
    out = tmp_path / "prepared"
    dataset = prepare(params_for(write_table(people)), out)
    by_id = people.set_index("row_id")
    for x, y in load_all(out).values():
        original = by_id.loc[x[:, 0], "label"].to_numpy()
        np.testing.assert_array_equal(np.array(dataset["class_labels"])[y], original)
        np.testing.assert_array_equal(x[:, 1], by_id.loc[x[:, 0], "age"].to_numpy())


def test_parquet_source(people, write_table, params_for, tmp_path) -> None:
    # A repeated stored index used to break the stratified split.
    path = write_table(people.set_axis([0] * len(people)), "people.parquet")
    dataset = prepare(params_for(path), tmp_path / "prepared")
    assert dataset["rows"] == {"train": 42, "validation": 9, "test": 9}


def test_regression_csv(people, write_table, params_for, tmp_path) -> None:
    frame = people.assign(income=people["age"] * 1000.0)
    out = tmp_path / "prepared"
    params = params_for(write_table(frame), task="regression", target="income")
    dataset = prepare(params, out)
    assert dataset["task"] == "regression"
    assert dataset["class_labels"] is None
    x, y = load_split(out, "test")
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, x[:, 1] * 1000)


def test_numeric_class_labels_sort_as_numbers(people, write_table, params_for, tmp_path) -> None:
    frame = people.assign(label=np.tile([10, 2], len(people) // 2))
    out = tmp_path / "prepared"
    dataset = prepare(params_for(write_table(frame)), out)
    assert dataset["class_labels"] == ["2", "10"]
    x, y = load_split(out, "train")
    original = frame.set_index("row_id").loc[x[:, 0], "label"].to_numpy()
    np.testing.assert_array_equal(y, np.where(original == 2, 0, 1))


def test_class_labels_order() -> None:
    assert class_labels(pd.Series([10, 2, 1, 2])) == ["1", "2", "10"]
    assert class_labels(pd.Series(["b", "a", "b"])) == ["a", "b"]


def test_url_source_is_downloaded_into_the_working_directory_cache(
    people, file_server, tmp_path, monkeypatch
) -> None:
    people.to_csv(file_server.root / "people.csv", index=False)
    url = f"{file_server.url}/people.csv"
    monkeypatch.chdir(tmp_path)  # the default cache is data/downloads, relative
    params = PrepareParams.model_validate(
        {
            "source": {"url": url},
            "task": "classification",
            "target": "label",
            "numeric_features": ["age"],
        }
    )
    dataset = prepare(params, tmp_path / "prepared")
    assert dataset["origin"] == url
    assert len(list((tmp_path / "data" / "downloads").iterdir())) == 1


# --- split -----------------------------------------------------------------------------------


def test_same_seed_gives_identical_splits(people, write_table, params_for, tmp_path) -> None:
    params = params_for(write_table(people))
    prepare(params, tmp_path / "one")
    prepare(params, tmp_path / "two")
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")


def test_other_seed_gives_other_splits(people, write_table, params_for, tmp_path) -> None:
    path = write_table(people)
    prepare(params_for(path, seed=1), tmp_path / "one")
    prepare(params_for(path, seed=2), tmp_path / "two")
    ids_one = set(load_split(tmp_path / "one", "test")[0][:, 0])
    ids_two = set(load_split(tmp_path / "two", "test")[0][:, 0])
    assert ids_one != ids_two


def test_every_row_lands_in_exactly_one_split(people, write_table, params_for, tmp_path) -> None:
    out = tmp_path / "prepared"
    prepare(params_for(write_table(people)), out)
    ids = [set(x[:, 0]) for x, _ in load_all(out).values()]
    assert sum(len(part) for part in ids) == len(people)
    assert set.union(*ids) == set(people["row_id"])
    assert not ids[0] & ids[1]
    assert not ids[0] & ids[2]
    assert not ids[1] & ids[2]


def test_fractions_are_respected(write_table, params_for, tmp_path) -> None:
    out = tmp_path / "prepared"
    split = {"train": 0.5, "validation": 0.2, "test": 0.3}
    dataset = prepare(params_for(write_table(imbalanced(200)), split=split), out)
    assert dataset["rows"] == {"train": 100, "validation": 40, "test": 60}


def test_split_is_stratified(write_table, params_for, tmp_path) -> None:
    out = tmp_path / "prepared"
    dataset = prepare(params_for(write_table(imbalanced(200, share_b=0.3))), out)
    b = dataset["class_labels"].index("b")
    for name, (_, y) in load_all(out).items():
        assert abs(np.mean(y == b) - 0.3) <= 0.04, name


def test_class_too_small_for_a_stratified_split(people, write_table, params_for, tmp_path):
    labels = people["label"].to_numpy(copy=True)
    labels[:3] = "maybe"
    out = tmp_path / "prepared"
    with pytest.raises(DataError) as caught:
        prepare(params_for(write_table(people.assign(label=labels))), out)
    assert "classes with too few rows for a stratified split: 'maybe' (3)" in str(caught.value)
    assert "each class needs at least 7 rows" in str(caught.value)
    assert not out.exists()


def test_minimum_rows_per_class() -> None:
    assert minimum_rows_per_class(0.15, 0.15) == 7  # 1 / 0.15 = 6.7 -> 7
    assert minimum_rows_per_class(0.25, 0.1) == 10
    assert minimum_rows_per_class(0.4, 0.4) == 3  # never fewer than one row per split


# --- missing values, fitted on train only ----------------------------------------------------


def test_fill_values_come_from_the_training_split(people, write_table, params_for, tmp_path):
    frame = people.copy()
    frame["age"] = frame["age"] ** 2  # skewed, so subset medians differ
    frame.loc[[3, 11, 40], "age"] = np.nan
    # Singleton cities land in one split each: only those in train may become categories.
    frame.loc[20:39, "city"] = [f"town{i}" for i in range(20)]
    out = tmp_path / "prepared"
    dataset = prepare(params_for(write_table(frame)), out)
    encoding = dataset["encoding"]
    train_ids = load_split(out, "train")[0][:, 0]
    train_rows = frame.set_index("row_id").loc[train_ids]

    assert encoding["numeric"][1]["fill"] == train_rows["age"].median()
    assert train_rows["age"].median() != frame["age"].median()
    assert encoding["categorical"][0]["categories"] == sorted(train_rows["city"].unique())
    assert len(encoding["categorical"][0]["categories"]) < frame["city"].nunique()

    # Rows whose city never appeared in training encode as all zeros.
    categories = set(encoding["categorical"][0]["categories"])
    for name in ("validation", "test"):
        x, _ = load_split(out, name)
        unseen = ~frame.set_index("row_id").loc[x[:, 0], "city"].isin(categories).to_numpy()
        np.testing.assert_array_equal(x[unseen, 2:], 0.0)
        np.testing.assert_array_equal(x[~unseen, 2:].sum(axis=1), 1.0)


def test_drop_row_rule_removes_incomplete_rows(people, write_table, params_for, tmp_path):
    frame = people.copy()
    frame.loc[[3, 11], "age"] = np.nan
    dataset = prepare(
        params_for(write_table(frame), missing={"numeric": "drop_row"}), tmp_path / "prepared"
    )
    assert sum(dataset["rows"].values()) == len(people) - 2


def test_drop_row_leaving_one_class(people, write_table, params_for, tmp_path) -> None:
    frame = people.copy()
    frame.loc[frame["label"] == "no", "age"] = np.nan
    out = tmp_path / "prepared"
    with pytest.raises(DataError, match=r"only one class left \('yes'\)"):
        prepare(params_for(write_table(frame), missing={"numeric": "drop_row"}), out)
    assert not out.exists()


# --- bad data: a clear error and nothing written ---------------------------------------------


def with_text_age(frame: pd.DataFrame) -> pd.DataFrame:
    ages = frame["age"].astype(object)
    ages[4] = "forty"
    return frame.assign(age=ages)


def with_value(column: str, row: int, value: float | None):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype({column: object})
        frame.loc[row, column] = value
        return frame

    return change


BAD_TABLES = {
    "missing column": (lambda f: f.drop(columns="city"), "missing column 'city'"),
    "text in numeric": (with_text_age, "column 'age': expected float64 values, found 'forty'"),
    "nan in target": (with_value("label", 5, None), "column 'label': 1 missing value(s)"),
    "inf in feature": (with_value("age", 6, np.inf), "column 'age': must be finite"),
    "header only": (lambda f: f.iloc[0:0], "the table has no rows"),
    "single class": (lambda f: f.assign(label="yes"), "needs at least two classes"),
}


@pytest.mark.parametrize("case", BAD_TABLES, ids=list(BAD_TABLES))
def test_bad_table_is_rejected_before_writing(people, params_for, tmp_path, case) -> None:
    change, expected = BAD_TABLES[case]
    path = tmp_path / "data.csv"
    change(people).to_csv(path, index=False)
    out = tmp_path / "prepared"
    with pytest.raises(DataError) as caught:
        prepare(params_for(path), out)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)  # names the file
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["data.csv"]  # no temporary leftovers


def test_zero_byte_file_is_rejected(params_for, tmp_path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="data file is empty"):
        prepare(params_for(path), tmp_path / "prepared")
    assert [p.name for p in tmp_path.iterdir()] == ["data.csv"]


def test_missing_values_with_error_rule(people, write_table, params_for, tmp_path) -> None:
    frame = people.copy()
    frame.loc[[1, 2], "city"] = None
    out = tmp_path / "prepared"
    with pytest.raises(DataError, match=r"missing values in 'city' \(2\)"):
        prepare(params_for(write_table(frame), missing={"categorical": "error"}), out)
    assert not out.exists()


def test_failed_run_leaves_previous_output_untouched(
    people, write_table, params_for, tmp_path
) -> None:
    out = tmp_path / "prepared"
    prepare(params_for(write_table(people)), out)
    before = snapshot(out)
    bad = write_table(people.drop(columns="age"), "bad.csv")
    with pytest.raises(DataError, match="missing column 'age'"):
        prepare(params_for(bad), out)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv", "data.csv", "prepared"]


def test_successful_run_replaces_previous_output(people, write_table, params_for, tmp_path):
    out = tmp_path / "prepared"
    out.mkdir()
    (out / "stale.npz").write_bytes(b"old")
    prepare(params_for(write_table(people)), out)
    assert "stale.npz" not in {p.name for p in out.iterdir()}


# --- image folders ---------------------------------------------------------------------------


def image_params(root: Path, **image) -> PrepareParams:
    return PrepareParams.model_validate({"source": {"images": str(root)}, "image": image or None})


def test_image_folder_becomes_manifests_not_pixels(tmp_path: Path) -> None:
    from ml.data import images
    from tests.image_folders import SHAPES, write_image_folder

    root = write_image_folder(tmp_path / "shapes", per_class=20)
    out = tmp_path / "prepared"
    dataset = prepare(image_params(root, size=[16, 12], color_mode="grayscale"), out)
    assert sorted(path.name for path in out.iterdir()) == [
        "dataset.json",
        "test.csv",
        "train.csv",
        "validation.csv",
    ]
    assert read_json(out / "dataset.json") == dataset
    assert dataset["task"] == "classification"
    assert dataset["input_kind"] == "image"
    assert dataset["input_shape"] == [16, 12, 1]
    assert dataset["class_labels"] == sorted(SHAPES)
    assert dataset["preprocessing"]["size"] == [16, 12]
    assert dataset["preprocessing"]["color_mode"] == "grayscale"
    assert dataset["image_root"] == root.as_posix()
    assert sum(dataset["rows"].values()) == 60
    seen: list[Path] = []
    for name in SPLITS:
        paths, labels = images.read_manifest(out, name, dataset)
        assert len(paths) == dataset["rows"][name]
        assert set(labels) == {0, 1, 2}  # stratified: every class in every split
        for path, label in zip(paths, labels, strict=True):
            assert path.parent.name == dataset["class_labels"][label]
            assert path.is_file()
        seen += paths
    assert sorted(seen) == sorted(root.rglob("*.*"))  # each image in exactly one split
    # Seeded: the same split again; another seed, another split.
    again = prepare(image_params(root, size=[16, 12], color_mode="grayscale"), tmp_path / "again")
    assert snapshot(tmp_path / "again") == snapshot(out)
    assert again == dataset
    reseeded = PrepareParams.model_validate({"source": {"images": str(root)}, "seed": 7})
    prepare(reseeded, tmp_path / "reseeded")
    assert (tmp_path / "reseeded" / "test.csv").read_bytes() != (out / "test.csv").read_bytes()


def test_a_bad_image_folder_writes_nothing(tmp_path: Path) -> None:
    from tests.image_folders import write_image_folder

    root = write_image_folder(tmp_path / "shapes", per_class=8)
    out = tmp_path / "prepared"
    prepare(image_params(root), out)
    before = snapshot(out)
    (root / "square" / "square-002.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ImageError, match=re.escape("square/square-002.jpg")):
        prepare(image_params(root), out)
    assert snapshot(out) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["prepared", "shapes"]


def test_image_source_params_are_checked() -> None:
    with pytest.raises(ValueError, match="applies to an 'images' source only"):
        PrepareParams.model_validate({"image": {"size": [8, 8]}})
    with pytest.raises(ValueError, match="leave target"):
        PrepareParams.model_validate({"source": {"images": "data/raw/x"}, "target": "label"})
    with pytest.raises(ValueError, match="classification"):
        PrepareParams.model_validate({"source": {"images": "data/raw/x"}, "task": "regression"})
    with pytest.raises(ValueError, match="exactly one"):
        PrepareParams.model_validate({"source": {"images": "a", "path": "b.csv"}})
