"""The split drawn with NumPy alone is scikit-learn's train_test_split, row for row."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from ml.data.splitting import split_indices

# (rows, test share, class sizes or None): shares as prepare passes them, uneven and tied classes.
CASES = [
    (400, 0.3, None),
    (7, 0.3, None),
    (1797, 0.3, None),
    (60, 0.5, None),
    (400, 0.3, [134, 133, 133]),
    (120, 0.5, [40, 40, 40]),
    (1797, 0.3, [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),
    (200, 0.15 / 0.3, [140, 60]),
    (33, 0.25, [11, 11, 5, 6]),
    (50, 0.2, [2, 2, 2, 44]),
]


@pytest.mark.parametrize("seed", [0, 7, 42, 2024])
@pytest.mark.parametrize(("rows", "share", "classes"), CASES)
def test_rows_are_those_scikit_learn_picks(rows, share, classes, seed):
    labels = None
    if classes is not None:
        assert sum(classes) == rows
        # Shuffled labels with text values, as prepare stratifies on the target as text.
        names = np.repeat([f"class-{i}" for i in range(len(classes))], classes)
        labels = np.random.default_rng(seed).permutation(names).astype(object)
    train, test = split_indices(rows, share, seed, labels)
    expected_train, expected_test = train_test_split(
        np.arange(rows), test_size=share, random_state=seed, stratify=labels
    )
    np.testing.assert_array_equal(train, expected_train)
    np.testing.assert_array_equal(test, expected_test)


@pytest.mark.parametrize(
    ("rows", "share", "classes", "message"),
    [
        (3, 0.9, None, "leaves 0 training rows"),
        (10, 0.3, ["a"] * 9 + ["b"], r"classes with a single row: \['b'\]"),
        (10, 0.1, ["a", "b", "c"] * 3 + ["a"], "1 test rows for 3 classes"),
    ],
)
def test_splits_scikit_learn_refuses_are_refused(rows, share, classes, message):
    labels = None if classes is None else np.array(classes, dtype=object)
    with pytest.raises(ValueError, match=message):
        split_indices(rows, share, 0, labels)
    with pytest.raises(ValueError):
        train_test_split(np.arange(rows), test_size=share, random_state=0, stratify=labels)
