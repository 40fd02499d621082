"""An image folder through the real `ml prepare`, `ml train`, `ml export` and `ml evaluate`
processes: manifests instead of pixels, files decoded while training, the exported ONNX model
verified against Keras on decoded test images and scored by evaluate without TensorFlow."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from ml.data.images import Preprocessing, decode_all, read_manifest
from ml.io import read_json
from ml.serve.model import load
from ml.serve.validation import v1_rows
from tests.conftest import tiny_params
from tests.helpers import run, run_ml
from tests.image_folders import SHAPES, write_image_folder
from tests.paths import REPO_ROOT


def image_project(tmp_path: Path, **train) -> tuple[Path, dict]:
    project = tmp_path / "project"
    write_image_folder(project / "data" / "raw" / "shapes", per_class=30)
    params = tiny_params(epochs=2, batch_size=16, **train)
    params["prepare"] = {
        "source": {"images": "data/raw/shapes"},
        "image": {"size": [16, 16], "color_mode": "rgb"},
    }
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    env.pop("MLFLOW_EXPERIMENT_NAME", None)
    return project, env


def ml(project: Path, env: dict, *args: str) -> None:
    result = run_ml(*args, "--params", "params.yaml", cwd=project, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


def test_image_folder_trains_exports_and_scores(tmp_path: Path) -> None:
    project, env = image_project(tmp_path, augment={"flip": True, "shift": 0.05})
    ml(project, env, "prepare")
    prepared = project / "data" / "prepared"
    dataset = read_json(prepared / "dataset.json")
    assert dataset["input_shape"] == [16, 16, 3]
    assert not list(prepared.glob("*.npz"))  # the pixels stay in the image files
    ml(project, env, "train")
    train_metrics = read_json(project / "metrics" / "train.json")
    assert train_metrics["epochs_run"] == 2
    ml(project, env, "export")
    export = read_json(project / "metrics" / "export.json")
    assert export["verified"] is True
    assert export["test_rows"] == dataset["rows"]["test"]
    from ml.onnx_model import read_metadata

    metadata = read_metadata(project / "models" / "model.onnx")
    assert metadata["preprocessing"] == dataset["preprocessing"]
    assert metadata["input_shape"] == ["batch", 16, 16, 3]
    # The examples and the drift reference come from the shuffled splits, not one class.
    assert set(metadata["examples"]["targets"]) == set(SHAPES)
    assert metadata["reference"]["rows"] == dataset["rows"]["train"]
    # Drift is measured on summaries of the images (brightness, colour, ...), not per pixel.
    assert metadata["reference"]["kind"] == "image_summary"
    assert "brightness_mean" in {column["name"] for column in metadata["reference"]["columns"]}
    ml(project, env, "evaluate")
    scores = read_json(project / "metrics" / "evaluate.json")
    assert scores["test_rows"] == dataset["rows"]["test"]
    # Three shapes in three colours: far above the 1/3 of guessing after two epochs.
    assert scores["accuracy"] > 0.6, scores
    assert set(scores["per_class"]) == set(SHAPES)
    # evaluate decodes the images with Pillow: scoring loads neither TensorFlow nor Keras.
    check = (
        "import sys; from pathlib import Path; from ml.evaluate import evaluate; "
        "evaluate(Path('models/model.onnx'), Path('data/prepared'), 8); "
        "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))"
    )
    env = dict(env, PYTHONPATH=str(REPO_ROOT))
    assert run([sys.executable, "-c", check], cwd=project, env=env).stdout.strip() == "[]"
    # The service decodes the same files, sent as base64, to the rows export verified on.
    served = load(project / "models" / "model.onnx")
    files = [project / path for path in read_manifest(prepared, "test", dataset)[0][:6]]
    request = {"instances": [{"b64": base64.b64encode(p.read_bytes()).decode()} for p in files]}
    rows = v1_rows(request, served, 64)
    assert served.preprocessing == Preprocessing.from_dataset(dataset)
    np.testing.assert_array_equal(rows, decode_all(files, Preprocessing.from_dataset(dataset)))


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (
            lambda root: (root / "cross" / "cross-004.png").write_bytes(b"\x89PNG broken"),
            "cross/cross-004.png",
        ),
        (lambda root: (root / "square" / "readme.txt").write_text("hi"), "square/readme.txt"),
        (lambda root: (root / "triangle").mkdir(), "triangle"),
    ],
    ids=["corrupt file", "non-image file", "empty class folder"],
)
def test_bad_image_folder_fails_prepare_naming_the_file(
    tmp_path: Path, damage, named: str
) -> None:
    project, env = image_project(tmp_path)
    damage(project / "data" / "raw" / "shapes")
    result = run_ml("prepare", "--params", "params.yaml", cwd=project, env=env)
    assert result.returncode == 1
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "data" / "prepared").exists()
    assert [p.name for p in (project / "data").iterdir()] == ["raw"]  # no temporary left


def test_ml_tune_searches_over_an_image_folder(tmp_path: Path) -> None:
    project, env = image_project(tmp_path)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["epochs"] = 1
    params["tune"] = {"trials": 2, "space": {"cnn.dense_units": {"choices": [8, 16]}}}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    ml(project, env, "prepare")
    ml(project, env, "tune", "--no-repro")
    table = read_json(project / "metrics" / "tune.json")
    assert len(table["trials"]) == 2 and table["metric"] == "val_accuracy"
    written = yaml.safe_load((project / "params.yaml").read_text())
    assert written["train"]["cnn"]["dense_units"] == table["best"]["overrides"]["cnn.dense_units"]
