"""Which rows go to which side of a seeded split: the rows scikit-learn's `train_test_split`
picks (with `random_state=seed`, `shuffle=True`, optionally `stratify`), drawn with NumPy alone.

Importing sklearn.model_selection costs ~1.4 s (SciPy comes with it), most of prepare's time on a
small table; the draw itself is a few lines. The same draws in the same order from the same
RandomState give the same rows, so prepared data (and its DVC hash) is what scikit-learn's split
made of it: tests/ml/data/test_splitting.py compares the two over many sizes, seeds and classes.
"""

from __future__ import annotations

import math

import numpy as np


def split_indices(
    n_rows: int, test_fraction: float, seed: int, classes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows), positions in 0..n_rows-1, in scikit-learn's shuffled order.
    `classes` (one label per row) stratifies the split. A split that cannot be made (an empty
    side, a class of one row, fewer rows on a side than classes) raises ValueError."""
    n_test = math.ceil(test_fraction * n_rows)
    n_train = n_rows - n_test
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"a test share of {test_fraction} leaves {n_train} training rows")
    rng = np.random.RandomState(seed)
    if classes is None:
        permutation = rng.permutation(n_rows)
        return permutation[n_test:], permutation[:n_test]
    labels, codes, counts = np.unique(classes, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(f"classes with a single row: {labels[counts < 2].tolist()}")
    for side, size in (("train", n_train), ("test", n_test)):
        if size < len(labels):
            raise ValueError(f"{size} {side} rows for {len(labels)} classes")
    by_class = np.split(np.argsort(codes, kind="stable"), np.cumsum(counts)[:-1])
    train_counts = approximate_mode(counts, n_train, rng)
    test_counts = approximate_mode(counts - train_counts, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for rows, count, to_train, to_test in zip(
        by_class, counts, train_counts, test_counts, strict=True
    ):
        shuffled = rows.take(rng.permutation(count), mode="clip")
        train.extend(shuffled[:to_train])
        test.extend(shuffled[to_train : to_train + to_test])
    return rng.permutation(train), rng.permutation(test)


def approximate_mode(counts: np.ndarray, draws: int, rng: np.random.RandomState) -> np.ndarray:
    """Rows per class for `draws` rows in the classes' proportions: the floors first, then one
    more for the largest remainders, ties broken at random (scikit-learn's _approximate_mode)."""
    continuous = counts / counts.sum() * draws
    floored = np.floor(continuous)
    need = int(draws - floored.sum())
    if need > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (tied,) = np.where(remainder == value)
            add = min(len(tied), need)
            floored[rng.choice(tied, size=add, replace=False)] += 1
            need -= add
            if need == 0:
                break
    result: np.ndarray = floored.astype(int)
    return result
