"""Named tabular features -> the model's input row, following the encoding stored at training
time (metadata["encoding"], written by ml/data/features.py): numeric values as they are, categories
one-hot, null replaced by the training fill value, unseen categories as all zeros."""

from __future__ import annotations

import numpy as np

from ml.serve.validation import RequestError


class NamedFeatures:
    def __init__(self, encoding: dict) -> None:
        self.numeric = [(spec["name"], float(spec["fill"])) for spec in encoding["numeric"]]
        self.categorical = [
            (spec["name"], str(spec["fill"]), {c: i for i, c in enumerate(spec["categories"])})
            for spec in encoding["categorical"]
        ]
        self.names = [name for name, _ in self.numeric] + [name for name, *_ in self.categorical]
        self.known = frozenset(self.names)
        self.width = len(encoding["encoded_columns"])
        one_hot = sum(len(index) for *_, index in self.categorical)
        if len(self.numeric) + one_hot != self.width:
            raise ValueError("encoding: numeric and one-hot columns do not add up to its width")

    def rows(self, instances: list[dict]) -> np.ndarray:
        rows = np.zeros((len(instances), self.width), dtype=np.float32)
        with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused by the caller
            for number, instance in enumerate(instances):
                self.fill_row(rows[number], instance, f"instances[{number}]")
        return rows

    def fill_row(self, row: np.ndarray, instance: dict, where: str) -> None:
        self.check_names(instance, where)
        for column, (name, number_fill) in enumerate(self.numeric):
            row[column] = self.number(instance[name], number_fill, f"{where}.{name}")
        offset = len(self.numeric)
        for name, category_fill, index in self.categorical:
            position = index.get(self.category(instance[name], category_fill, f"{where}.{name}"))
            if position is not None:
                row[offset + position] = 1.0
            offset += len(index)

    def check_names(self, instance: dict, where: str) -> None:
        if instance.keys() == self.known:
            return
        missing = [name for name in self.names if name not in instance]
        unknown = sorted(str(name) for name in instance if name not in self.known)
        problems = []
        if missing:
            problems.append(f"missing features: {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown features: {', '.join(unknown)}")
        raise RequestError(
            400, f"{where}: {'; '.join(problems)} (this model takes: {', '.join(self.names)})"
        )

    @staticmethod
    def number(value: object, fill: float, where: str) -> float:
        if value is None:
            return fill
        if isinstance(value, bool) or not isinstance(value, int | float):  # bool is an int
            raise RequestError(400, f"{where} must be a number (or null), got {value!r}")
        try:
            return float(value)
        except OverflowError:  # an integer beyond float range; float32 overflow is caught later
            raise RequestError(400, f"{where} is too large for float32") from None

    @staticmethod
    def category(value: object, fill: str, where: str) -> str:
        if value is None:
            return fill
        if type(value) not in (str, int, float):
            raise RequestError(400, f"{where} must be text or a number (or null), got {value!r}")
        return str(value)
