"""Validation of the raw table against the declared columns, before any row is used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.data import schema
from ml.data.sources import DataError, RawData


def raw_of(frame: pd.DataFrame, task: str = "classification") -> RawData:
    return RawData(
        frame=frame,
        target="label",
        task=task,
        numeric_features=["row_id", "age"],
        categorical_features=["city"],
        origin="people.csv",
    )


def error_of(frame: pd.DataFrame, task: str = "classification") -> str:
    with pytest.raises(DataError) as caught:
        schema.validate(raw_of(frame, task))
    message = str(caught.value)
    assert message.startswith("people.csv")  # every message names the source
    return message


def test_valid_table_keeps_declared_columns_with_their_types(people) -> None:
    frame = schema.validate(raw_of(people.assign(extra="ignored", age=people["age"].astype(int))))
    assert list(frame.columns) == ["row_id", "age", "city", "label"]
    assert frame["age"].dtype == np.float64  # integers coerced to float
    assert frame["city"].dtype == "string"


def test_missing_category_stays_missing_not_the_text_nan(people) -> None:
    frame = schema.validate(raw_of(people.assign(city=[None, *people["city"][1:]])))
    assert frame["city"].isna().sum() == 1
    assert "nan" not in set(frame["city"].dropna())


def test_undeclared_columns_are_not_checked(people) -> None:
    schema.validate(raw_of(people.assign(notes=np.inf)))  # no error


def test_missing_column(people) -> None:
    message = error_of(people.drop(columns="city"))
    assert "does not match the declared schema" in message
    assert "missing column 'city'" in message


def test_text_in_numeric_column_is_reported_once(people) -> None:
    ages = people["age"].astype(object)
    ages[[2, 5]] = ["forty", "n/a years"]
    message = error_of(people.assign(age=ages))
    assert "column 'age': expected float64 values, found 'forty', 'n/a years' (rows 2, 5)" in (
        message
    )
    # The follow-on dtype and finite failures of the same column are noise, not reported.
    assert len(message.splitlines()) == 2
    assert "TypeError" not in message


def test_nan_in_target(people) -> None:
    labels = people["label"].astype(object)
    labels[[4, 9]] = None
    message = error_of(people.assign(label=labels))
    assert "column 'label': 2 missing value(s) (rows 4, 9); the target must be complete" in message


def test_nan_in_regression_target(people) -> None:
    target = people["age"].copy()
    target[3] = np.nan
    message = error_of(people.assign(label=target), task="regression")
    assert "column 'label': 1 missing value(s) (rows 3)" in message


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_in_feature(people, value: float) -> None:
    ages = people["age"].copy()
    ages[7] = value
    message = error_of(people.assign(age=ages))
    assert f"column 'age': must be finite (no inf), found {value!r} (rows 7)" in message


def test_inf_in_regression_target(people) -> None:
    target = people["age"].copy()
    target[0] = np.inf
    message = error_of(people.assign(label=target), task="regression")
    assert "column 'label': must be finite (no inf)" in message


def test_single_class(people) -> None:
    message = error_of(people.assign(label="yes"))
    assert "column 'label': needs at least two classes to train a classifier" in message
    assert "False" not in message  # pandera's raw failure value is not shown


def test_header_only_table(people) -> None:
    message = error_of(people.iloc[0:0])
    assert message == "people.csv: the table has no rows"


def test_every_problem_is_reported_at_once(people) -> None:
    frame = people.drop(columns="city").assign(age="old", label=None)
    message = error_of(frame)
    assert "missing column 'city'" in message
    assert "column 'age': expected float64 values" in message
    assert "column 'label': 60 missing value(s)" in message


def test_long_lists_of_bad_values_are_shortened(people) -> None:
    message = error_of(people.assign(age=[f"x{i}" for i in range(len(people))]))
    assert "found 'x0', 'x1', 'x2', 'x3', 'x4' (rows 0, 1, 2, 3, 4 and 55 more)" in message
    assert "'x5'" not in message


def test_a_csv_row_is_named_by_its_line_in_the_file(tmp_path) -> None:
    # A blank line and a quoted value over two lines: line numbers are the file's, as an
    # editor shows them, not pandas' row indexes.
    path = tmp_path / "people.csv"
    path.write_text(
        'row_id,age,city,label\n1,30,"Nice\nsud",a\n\n2,thirty,Lyon,b\n3,40,Paris,a\n',
        encoding="utf-8",
    )
    frame = pd.read_csv(path)
    raw = RawData(
        frame, "label", "classification", ["row_id", "age"], ["city"], "people.csv", csv_path=path
    )
    with pytest.raises(DataError) as caught:
        schema.validate(raw)
    assert "column 'age': expected float64 values, found 'thirty' (lines 5)" in str(caught.value)


def test_a_parquet_row_is_named_by_its_index(people) -> None:
    ages = people["age"].astype(object)
    ages[4] = "old"
    # No csv_path (a Parquet table or a data frame): rows by index from 0.
    assert "found 'old' (rows 4)" in error_of(people.assign(age=ages))
