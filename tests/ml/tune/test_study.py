"""The Optuna study behind `ml tune`, without training: its identity and storage (a second run
resumes the first), candidates queued once over the study's life, the trial budget, and the
data fingerprint. (A real search on the digits data, pruning and resuming, runs through the
command in test_command.py.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ml.config import parse_params
from ml.tune.study import enqueue_candidates, load_prepared, open_study, trials_left

# Trials here are asked for and told by hand; Optuna warns that its heartbeat (what lets `ml tune`
# resume after a kill) is meant for Study.optimize, which these tests do not run.
pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")

CANDIDATES = [{"learning_rate": 0.01}, {"learning_rate": 0.001}]


def params(**tune):
    return parse_params({"train": {"model": "mlp"}, "tune": tune})


def run_waiting_trials(study, value: float = 0.5) -> None:
    """Finish every queued trial as if it had trained (no training here)."""
    while trials_left(study, params(trials=100)):
        study.tell(study.ask(), value)


def test_a_second_run_opens_the_same_study_and_queues_no_candidate_twice(tmp_path: Path):
    settings = params(trials=5, candidates=CANDIDATES)
    study = open_study(settings, "data-1", tmp_path, maximize=True)
    enqueue_candidates(study, settings.tune.candidates)
    first = study.ask()
    assert first.user_attrs == {"candidate": 0}
    study.tell(first, 0.9)

    again = open_study(settings, "data-1", tmp_path, maximize=True)
    enqueue_candidates(again, settings.tune.candidates)
    assert again.study_name == study.study_name and again.direction.name == "MAXIMIZE"
    queued = [trial.user_attrs["candidate"] for trial in again.get_trials()]
    assert sorted(queued) == [0, 1]  # candidate 1 still waiting, candidate 0 not re-queued
    assert (tmp_path / "optuna.db").is_file()


def test_other_data_is_another_study_in_the_same_storage(tmp_path: Path):
    settings = params(candidates=CANDIDATES)
    first = open_study(settings, "data-1", tmp_path, maximize=False)
    other = open_study(settings, "data-2", tmp_path, maximize=False)
    assert first.study_name != other.study_name
    assert other.direction.name == "MINIMIZE" and other.trials == []


def test_the_budget_counts_finished_trials(tmp_path: Path):
    settings = params(trials=4, space={"learning_rate": {"low": 0.001, "high": 0.1}})
    study = open_study(settings, "data-1", tmp_path, maximize=True)
    assert trials_left(study, settings) == 4
    for value in (0.5, 0.6, 0.7):
        study.tell(study.ask(), value)
    assert trials_left(study, settings) == 1
    study.tell(study.ask(), 0.8)
    study.tell(study.ask(), 0.9)  # a budget lowered after the fact
    assert trials_left(study, settings) == 0


def test_without_a_space_only_the_queued_candidates_are_left(tmp_path: Path):
    settings = params(trials=10, candidates=CANDIDATES)
    study = open_study(settings, "data-1", tmp_path, maximize=True)
    enqueue_candidates(study, settings.tune.candidates)
    assert trials_left(study, settings) == 2  # not 10: nothing else could be sampled
    run_waiting_trials(study)
    assert trials_left(study, settings) == 0


def test_the_fingerprint_follows_the_prepared_data(prepared_digits: Path, tmp_path: Path):
    data, fingerprint = load_prepared(prepared_digits)
    assert data.dataset["task"] == "classification"
    assert data.x_train.shape[1:] == (8, 8, 1) and len(data.x_val) == len(data.y_val)
    copy = tmp_path / "prepared"
    shutil.copytree(prepared_digits, copy)
    assert load_prepared(copy)[1] == fingerprint  # the bytes, not the place
    (copy / "dataset.json").write_text((copy / "dataset.json").read_text() + "\n")
    assert load_prepared(copy)[1] != fingerprint


def test_an_image_folder_loads_as_files_and_its_fingerprint_follows_the_images(tmp_path: Path):
    from PIL import Image

    from ml.config import PrepareParams
    from ml.data.images import ImageFiles
    from ml.prepare import prepare
    from tests.image_folders import write_image_folder

    root = write_image_folder(tmp_path / "shapes", per_class=12)
    settings = PrepareParams.model_validate(
        {"source": {"images": str(root)}, "image": {"size": [12, 12], "color_mode": "rgb"}}
    )
    prepare(settings, tmp_path / "prepared")
    data, fingerprint = load_prepared(tmp_path / "prepared")
    assert isinstance(data.x_train, ImageFiles) and isinstance(data.x_val, ImageFiles)
    assert data.x_train.shape[1:] == (12, 12, 3) and len(data.x_val) == len(data.y_val)
    # A training image with the same name and other pixels: the manifests' digests make it
    # another study.
    first = data.x_train.files[0]
    with Image.open(first) as image:
        kind = image.format
    Image.new("RGB", (30, 30), (255, 255, 255)).save(first, format=kind)
    prepare(settings, tmp_path / "prepared")
    assert load_prepared(tmp_path / "prepared")[1] != fingerprint
