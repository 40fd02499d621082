"""Validate the raw table against the columns declared in params, before any row is used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from ml.data.sources import DataError, RawData, csv_line_numbers

MAX_REPORTED_VALUES = 5


def validate(raw: RawData) -> pd.DataFrame:
    """The declared columns, coerced to their types; DataError lists every problem at once."""
    if raw.frame.empty:
        raise DataError(f"{raw.origin}: the table has no rows")
    schema = build_schema(raw)
    try:
        frame = schema.validate(raw.frame, lazy=True)
    except SchemaErrors as exc:
        problems = describe(exc, raw)
        raise DataError(f"{raw.origin} does not match the declared schema:\n{problems}") from None
    columns = [*raw.numeric_features, *raw.categorical_features, raw.target]
    frame = frame[columns].copy()
    for name in raw.categorical_features:
        # "string" keeps missing values as <NA> instead of turning them into the text "nan".
        frame[name] = frame[name].astype("string")
    return frame


def build_schema(raw: RawData) -> pa.DataFrameSchema:
    finite = pa.Check(
        lambda s: ~np.isinf(s), ignore_na=True, error="must be finite (no inf)", name="finite"
    )
    columns = {
        name: pa.Column(float, coerce=True, nullable=True, checks=[finite])
        for name in raw.numeric_features
    }
    columns |= {name: pa.Column(nullable=True) for name in raw.categorical_features}
    if raw.task == "regression":
        columns[raw.target] = pa.Column(float, coerce=True, nullable=False, checks=[finite])
    else:
        at_least_two = pa.Check(
            lambda s: s.nunique() >= 2,
            error="needs at least two classes to train a classifier",
            name="at_least_two_classes",
        )
        columns[raw.target] = pa.Column(nullable=False, checks=[at_least_two])
    return pa.DataFrameSchema(columns, strict=False)


def describe(exc: SchemaErrors, raw: RawData | None = None) -> str:
    """Turn pandera's failure table into one line per (column, check)."""
    cases = exc.failure_cases
    # Text in a numeric column also fails the dtype and finite checks (the latter with a numpy
    # TypeError as its "value"): report only the root cause for such a column.
    coerce_failed = cases["check"].astype(str).str.startswith("coerce_dtype")
    uncoercible = set(cases.loc[coerce_failed, "column"])
    cases = cases[coerce_failed | ~cases["column"].isin(uncoercible)]
    lines = []
    # A CSV's rows are named by the file's line numbers (the header is line 1), which is what
    # an editor shows; a Parquet table has no lines, so its rows go by index from 0.
    csv_path = raw.csv_path if raw is not None else None
    if csv_path is not None:
        line_of = csv_line_numbers(csv_path, cases["index"].dropna().astype(int).tolist())
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        values = group["failure_case"].tolist()
        rows = group["index"].dropna().astype(int).tolist()
        if csv_path is not None:
            rows = [line_of.get(row, row) for row in rows]
        unit = "lines" if csv_path is not None else "rows"
        lines.append("  - " + describe_one(column, str(check), values, rows, unit))
    return "\n".join(lines)


def describe_one(
    column: object, check: str, values: list, rows: list[int], unit: str = "rows"
) -> str:
    if check == "column_in_dataframe":
        return f"missing column {values[0]!r}"
    where = f"column {column!r}"
    shown = ", ".join(repr(v) for v in values[:MAX_REPORTED_VALUES])
    more = (
        f" and {len(values) - MAX_REPORTED_VALUES} more"
        if len(values) > MAX_REPORTED_VALUES
        else ""
    )
    shown_rows = ", ".join(map(str, rows[:MAX_REPORTED_VALUES]))
    row_note = f" ({unit} {shown_rows}{more})" if rows else ""
    if check.startswith("coerce_dtype"):
        wanted = check.split("'")[1] if "'" in check else check
        return f"{where}: expected {wanted} values, found {shown}{row_note}"
    if check == "not_nullable":
        return f"{where}: {len(values)} missing value(s){row_note}; the target must be complete"
    if not rows:
        # A whole-column check (e.g. at least two classes): pandera's failure value is just
        # False, so the check's own message is the explanation.
        return f"{where}: {check}"
    return f"{where}: {check}, found {shown}{row_note}"
