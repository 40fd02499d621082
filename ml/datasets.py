"""The datasets bundled with scikit-learn that `prepare.source.bundled` can name: the one table
the params schema, the loader (ml.data.sources) and `ml route` read. It sits beside ml.config,
below every capability, and uses the standard library only: every command and the serving
image import ml.config, and neither may pay for pandas or scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class BundledDataset:
    task: Literal["classification", "regression"]
    target: str  # a readable name for scikit-learn's `target` column
    rows: int  # all of them; `ml route` matches size rules before `prepare` has run
    features: int  # input values per example: `ml route` sizes the model before `prepare`
    classes: int | None = None  # None: regression
    # Class names (setosa) replace scikit-learn's codes; digits' codes already are the names.
    named_classes: bool = False
    image_shape: tuple[int, ...] | None = None  # height, width, channels of an image set
    pixel_max: float | None = None  # image pixels run 0..pixel_max, scaled to 0..1 by prepare


# name -> dataset; each loads offline with sklearn.datasets.load_<name>.
BUNDLED_DATASETS = {
    "digits": BundledDataset(
        "classification",
        "digit",
        rows=1797,
        features=64,
        classes=10,
        image_shape=(8, 8, 1),
        pixel_max=16.0,
    ),
    "iris": BundledDataset(
        "classification", "species", rows=150, features=4, classes=3, named_classes=True
    ),
    "wine": BundledDataset(
        "classification", "cultivar", rows=178, features=13, classes=3, named_classes=True
    ),
    "breast_cancer": BundledDataset(
        "classification", "diagnosis", rows=569, features=30, classes=2, named_classes=True
    ),
    "diabetes": BundledDataset("regression", "progression", rows=442, features=10),
}
