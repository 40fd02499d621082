"""Missing-value rules and one-hot encoding, fitted on the training split only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ml.config import Missing
from ml.data import features
from ml.data.features import MISSING_CATEGORY
from ml.data.sources import DataError

NUMERIC = ["age"]
CATEGORICAL = ["city"]


def table(ages: list[float | None], cities: list[str | None]) -> pd.DataFrame:
    """A frame typed as schema.validate returns it: float numerics, 'string' categoricals."""
    return pd.DataFrame(
        {"age": pd.array(ages, dtype="float64"), "city": pd.array(cities, dtype="string")}
    )


TRAIN = table([10.0, 20.0, 30.0, None, 100.0], ["Paris", "Lyon", "Paris", None, "Paris"])
TEST = table([None, 5.0, 7.0], ["Nice", None, "Lyon"])


def fit(missing: Missing | None = None) -> dict:
    return features.fit_encoding(TRAIN, NUMERIC, CATEGORICAL, missing or Missing())


# --- fitting ---------------------------------------------------------------------------------


def test_encoding_spec_lists_fills_categories_and_columns() -> None:
    assert fit() == {
        "numeric": [{"name": "age", "fill": 25.0}],  # median of 10, 20, 30, 100
        "categorical": [{"name": "city", "fill": "Paris", "categories": ["Lyon", "Paris"]}],
        "encoded_columns": ["age", "city=Lyon", "city=Paris"],
    }


def test_encoding_spec_is_plain_json() -> None:
    # Serving rebuilds feature vectors from this spec without pandas: no numpy scalars inside.
    spec = fit()
    assert json.loads(json.dumps(spec)) == spec
    assert type(spec["numeric"][0]["fill"]) is float


@pytest.mark.parametrize(("rule", "fill"), [("median", 25.0), ("mean", 40.0), ("zero", 0.0)])
def test_numeric_fill_rules(rule: str, fill: float) -> None:
    assert fit(Missing(numeric=rule))["numeric"][0]["fill"] == fill


def test_constant_rule_adds_a_missing_category() -> None:
    spec = fit(Missing(categorical="constant"))["categorical"][0]
    assert spec["fill"] == MISSING_CATEGORY
    assert spec["categories"] == ["Lyon", "Paris", MISSING_CATEGORY]


def test_statistics_come_from_the_rows_given_only() -> None:
    # Test rows (Nice, ages 5 and 7) would change the median and add a category if they leaked.
    spec = fit()
    everything = pd.concat([TRAIN, TEST])
    assert spec["numeric"][0]["fill"] != everything["age"].median()
    assert "Nice" not in spec["categorical"][0]["categories"]


def test_all_missing_training_column_falls_back() -> None:
    train = table([None, None], [None, None])
    spec = features.fit_encoding(train, NUMERIC, CATEGORICAL, Missing())
    assert spec["numeric"][0]["fill"] == 0.0
    assert spec["categorical"][0] == {
        "name": "city",
        "fill": MISSING_CATEGORY,
        "categories": [MISSING_CATEGORY],
    }


def test_numeric_only_and_categorical_only() -> None:
    assert features.fit_encoding(TRAIN, NUMERIC, [], Missing())["encoded_columns"] == ["age"]
    only_city = features.fit_encoding(TRAIN, [], CATEGORICAL, Missing())
    assert only_city["encoded_columns"] == ["city=Lyon", "city=Paris"]


# --- encoding --------------------------------------------------------------------------------


def test_encode_fills_and_one_hot_encodes() -> None:
    x = features.encode(TRAIN, fit())
    assert x.dtype == np.float32
    expected = [
        [10, 0, 1],
        [20, 1, 0],
        [30, 0, 1],
        [25, 0, 1],  # both missing: the training median and the most frequent city
        [100, 0, 1],
    ]
    np.testing.assert_array_equal(x, np.array(expected, dtype=np.float32))


def test_unseen_category_encodes_as_all_zeros() -> None:
    x = features.encode(TEST, fit())
    np.testing.assert_array_equal(x[0], [25, 0, 0])  # Nice was never seen in training
    np.testing.assert_array_equal(x[1], [5, 0, 1])  # missing city -> the fill, Paris
    np.testing.assert_array_equal(x[2], [7, 1, 0])


def test_encode_with_constant_fill_marks_missing() -> None:
    x = features.encode(TEST, fit(Missing(categorical="constant")))
    np.testing.assert_array_equal(x[:, 1:], [[0, 0, 0], [0, 0, 1], [1, 0, 0]])


# --- drop_row and error rules ----------------------------------------------------------------


def test_drop_row_removes_only_rows_missing_that_kind() -> None:
    kept = features.drop_incomplete_rows(
        TRAIN, NUMERIC, CATEGORICAL, Missing(numeric="drop_row", categorical="most_frequent")
    )
    assert list(kept.index) == [0, 1, 2, 4]
    kept = features.drop_incomplete_rows(
        TEST, NUMERIC, CATEGORICAL, Missing(numeric="median", categorical="drop_row")
    )
    assert list(kept.index) == [0, 2]


def test_fill_rules_keep_every_row() -> None:
    kept = features.drop_incomplete_rows(TRAIN, NUMERIC, CATEGORICAL, Missing())
    assert len(kept) == len(TRAIN)


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        (Missing(numeric="error"), "missing values in 'age' (1); prepare.missing.numeric says"),
        (
            Missing(categorical="error"),
            "missing values in 'city' (1); prepare.missing.categorical says",
        ),
    ],
)
def test_error_rule_names_column_count_and_key(missing: Missing, expected: str) -> None:
    with pytest.raises(DataError) as caught:
        features.drop_incomplete_rows(TRAIN, NUMERIC, CATEGORICAL, missing)
    assert expected in str(caught.value)
    assert "'error'" in str(caught.value)


def test_error_rule_passes_complete_data() -> None:
    complete = TRAIN.dropna()
    kept = features.drop_incomplete_rows(
        complete, NUMERIC, CATEGORICAL, Missing(numeric="error", categorical="error")
    )
    assert len(kept) == len(complete)


def test_dropping_every_row_is_an_error() -> None:
    with pytest.raises(DataError, match="no rows left after dropping rows with missing values"):
        features.drop_incomplete_rows(
            table([None], ["Paris"]), NUMERIC, CATEGORICAL, Missing(numeric="drop_row")
        )
