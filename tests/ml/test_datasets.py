"""The bundled-datasets table against what scikit-learn actually loads, and the modules that
read it: the params schema accepts exactly its names, and importing the schema stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sklearn import datasets

from ml.config import ParamsError, PrepareParams, parse_params
from ml.datasets import BUNDLED_DATASETS
from tests.paths import REPO_ROOT


@pytest.mark.parametrize("name", sorted(BUNDLED_DATASETS))
def test_the_table_matches_scikit_learn(name: str) -> None:
    spec = BUNDLED_DATASETS[name]
    bunch = getattr(datasets, f"load_{name}")()
    assert len(bunch.data) == spec.rows
    # scikit-learn stores class codes as integers and regression targets as floats.
    integer_target = bunch.target.dtype.kind in "iu"
    assert spec.task == ("classification" if integer_target else "regression")
    class_names = getattr(bunch, "target_names", None)
    named = class_names is not None and class_names.dtype.kind in "UO"
    assert spec.named_classes == named
    if spec.image_shape is None:
        assert not hasattr(bunch, "images") and spec.pixel_max is None
    else:
        assert bunch.images.shape[1:] == spec.image_shape[:2]
        assert bunch.data.max() == spec.pixel_max


def test_the_schema_accepts_exactly_the_table_names() -> None:
    for name, spec in BUNDLED_DATASETS.items():
        assert PrepareParams(source={"bundled": name}).resolved_task == spec.task
    with pytest.raises(ParamsError) as caught:
        parse_params({"prepare": {"source": {"bundled": "mnist"}}})
    for name in BUNDLED_DATASETS:
        assert f"'{name}'" in str(caught.value)


def test_the_schema_imports_neither_pandas_nor_scikit_learn() -> None:
    # Every command imports ml.config, and so does the serving image, which has neither.
    heavy = {"numpy", "pandas", "sklearn", "scipy"}
    probe = "import json, sys, ml.config; print(json.dumps(sorted({*sys.modules})))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert "ml" in loaded
    assert loaded & heavy == set()
