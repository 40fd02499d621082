"""`ml route`: runner labels and image from the model kind, data size and epochs; forks never
reach a self-hosted runner."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from ml import route
from ml.cli import app
from ml.config import Params, ParamsError, parse_params
from tests.conftest import tiny_params, tool_env
from tests.helpers import run
from tests.paths import REPO_ROOT

GPU = ["self-hosted", "linux", "gpu"]
IMAGE = "ghcr.io/acme/train:1.2@sha256:" + "ab" * 32


def params_with(**sections) -> Params:
    raw = tiny_params()
    for name, section in sections.items():
        raw[name] = raw.get(name, {}) | section
    return parse_params(raw)


def test_cnn_goes_to_the_gpu_runner_and_a_small_mlp_to_ubuntu() -> None:
    cnn = route.decide(params_with(train={"model": "cnn"}), rows=1797, trusted=True)
    assert (cnn.runs_on, cnn.self_hosted, cnn.train, cnn.gpu) == (GPU, True, True, True)
    mlp = route.decide(params_with(train={"model": "mlp"}), rows=178, trusted=True)
    assert (mlp.runs_on, mlp.self_hosted, mlp.reason) == (
        ["ubuntu-latest"],
        False,
        "no rule matched: route.default",
    )


def test_a_large_mlp_goes_to_the_gpu_runner_and_unknown_size_does_not() -> None:
    params = params_with(train={"model": "mlp"})
    assert route.decide(params, rows=2_000_000, trusted=True).runs_on == GPU
    assert route.decide(params, rows=None, trusted=True).runs_on == ["ubuntu-latest"]


def test_first_matching_rule_wins_and_carries_its_image() -> None:
    rules = [
        {"min_epochs": 100, "runs_on": ["big-box"], "image": IMAGE},
        {"model": "cnn", "runs_on": GPU},
    ]
    params = params_with(route={"rules": rules}, train={"epochs": 120})
    decided = route.decide(params, rows=10, trusted=True)
    assert (decided.runs_on, decided.image, decided.reason) == (
        ["big-box"],
        IMAGE,
        "route.rules[0] matched",
    )
    assert decided.self_hosted  # a custom label can only be a self-hosted runner


def test_a_fork_gets_the_fork_runner_never_a_self_hosted_one() -> None:
    decided = route.decide(params_with(train={"model": "cnn"}), rows=1797, trusted=False)
    assert (decided.runs_on, decided.self_hosted, decided.train) == (
        ["ubuntu-latest"],
        False,
        True,
    )
    assert "fork pull request gets route.fork" in decided.reason


def test_a_fork_is_not_trained_when_route_fork_is_null() -> None:
    params = params_with(route={"fork": None}, train={"model": "cnn"})
    decided = route.decide(params, rows=1797, trusted=False)
    assert (decided.runs_on, decided.self_hosted, decided.train) == (
        ["ubuntu-latest"],
        False,
        False,
    )


def test_a_fork_on_a_github_hosted_route_trains_as_usual() -> None:
    decided = route.decide(params_with(train={"model": "mlp"}), rows=100, trusted=False)
    assert (decided.runs_on, decided.train) == (["ubuntu-latest"], True)


@pytest.mark.parametrize("labels", [["self-hosted"], ["gpu"], ["ubuntu-latest", "gpu"]])
def test_route_fork_cannot_name_a_self_hosted_runner(labels: list[str]) -> None:
    with pytest.raises(ParamsError, match="code from forks never runs on a self-hosted"):
        params_with(route={"fork": {"runs_on": labels}})


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"default": {"runs_on": []}}, "route.default.runs_on: List should have at least 1"),
        ({"default": {"runs_on": ["a b"]}}, "route.default.runs_on.0: String should match"),
        ({"rules": [{"modle": "cnn", "runs_on": GPU}]}, "Did you mean 'model'?"),
        ({"rules": [{"model": "rnn", "runs_on": GPU}]}, "route.rules.0.model: Input should be"),
        # A tag alone can be moved to other content: images are pinned by digest.
        ({"default": {"runs_on": GPU, "image": "ghcr.io/acme/train:1"}}, "String should match"),
    ],
)
def test_bad_route_sections_name_the_key(section: dict, message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        params_with(route=section)


def event(head_repo: str | None) -> dict:
    head = {"repo": {"full_name": head_repo}} if head_repo else {"repo": None}
    return {"pull_request": {"number": 1, "head": head}}


def test_trust_comes_from_the_event() -> None:
    assert route.is_trusted(None, "octo/kit")
    assert route.is_trusted({"ref": "refs/heads/main"}, "octo/kit")
    assert route.is_trusted(event("octo/kit"), "octo/kit")
    assert not route.is_trusted(event("mallory/kit"), "octo/kit")
    assert not route.is_trusted(event(None), "octo/kit")  # the fork was deleted


def test_rows_come_from_prepared_data_then_the_source(tmp_path: Path, prepared_digits) -> None:
    params = params_with()
    assert route.count_rows(params.prepare, prepared_digits) == 1797
    assert route.count_rows(params.prepare, tmp_path / "none") == 1797  # bundled digits
    table = tmp_path / "table.csv"
    table.write_text("a,label\n" + "1,x\n" * 41)
    from_file = params_with(
        prepare={
            "source": {"path": str(table)},
            "task": "classification",
            "target": "label",
            "numeric_features": ["a"],
        }
    )
    assert route.count_rows(from_file.prepare, tmp_path / "none") == 41
    table.unlink()
    assert route.count_rows(from_file.prepare, tmp_path / "none") is None


def test_cli_prints_json_and_writes_step_outputs(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    (tmp_path / "event.json").write_text(json.dumps(event("mallory/kit")))
    outputs = tmp_path / "outputs"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/kit")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    args = ["--epochs", "2", "--model-kind", "mlp", "--set", "train.batch_size=8"]
    result = cli.invoke(app, ["route", *args])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed["runs-on"] == ["ubuntu-latest"] and printed["trusted"] is False
    assert printed["model"] == "mlp"
    assert printed["overrides"] == {
        "train.batch_size": 8,
        "train.epochs": 2,
        "train.model": "mlp",
    }
    written = outputs.read_text()
    assert '["ubuntu-latest"]' in written and "self-hosted<<" in written


def test_cli_rejects_an_unknown_override_before_routing(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))
    result = cli.invoke(app, ["route", "--set", "train.epoch=3"])
    assert result.exit_code == 1
    assert "train.epoch: unknown key. Did you mean 'epochs'?" in result.output
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("no-such-branch", "data-ref 'no-such-branch': no such branch, tag or commit"),
        ("--upload-pack=x", "data-ref '--upload-pack=x' is not a branch, tag or commit name"),
        ("bare", "data-ref 'bare': no DVC-tracked data (*.dvc files)"),
    ],
)
def test_cli_rejects_a_bad_data_ref_before_routing(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ref: str, message: str
) -> None:
    env = tool_env(tmp_path)
    run(["git", "init", "-q", "-b", "main"], tmp_path, env)
    run(["git", "commit", "-q", "--allow-empty", "-m", "no data yet"], tmp_path, env)
    run(["git", "tag", "bare"], tmp_path, env)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params(model="mlp")))
    (tmp_path / "table.csv.dvc").write_text("outs:\n- md5: 0\n  path: table.csv\n")
    run(["git", "add", "-A"], tmp_path, env)
    run(["git", "commit", "-q", "-m", "data"], tmp_path, env)
    run(["git", "tag", "data-v1"], tmp_path, env)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "outputs"))

    assert cli.invoke(app, ["route", "--data-ref", "data-v1"]).exit_code == 0
    (tmp_path / "outputs").unlink()
    result = cli.invoke(app, ["route", "--data-ref", ref])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "outputs").exists()


# --- conditions on the built model --------------------------------------------------------------

OWN_CNN = """
import keras
from keras import layers


def build(input_shape, task, outputs, hyperparameters):
    inputs = keras.Input(shape=input_shape)
    hidden = layers.Flatten()(layers.Conv2D(4, 3, activation="relu")(inputs))
    return keras.Model(inputs, layers.Dense(outputs, activation="softmax")(hidden))


def dense(input_shape, task, outputs, hyperparameters):
    inputs = keras.Input(shape=input_shape)
    hidden = layers.Dense(hyperparameters.get("units", 8))(layers.Flatten()(inputs))
    return keras.Model(inputs, layers.Dense(outputs, activation="softmax")(hidden))
"""


def own_model_params(
    tmp_path, monkeypatch, function: str, hyperparameters: dict | None = None, **sections
) -> Params:
    (tmp_path / "net.py").write_text(OWN_CNN)
    monkeypatch.chdir(tmp_path)
    train = {
        "model": f"net.py:{function}",
        "model_file": "net.py",
        "hyperparameters": hyperparameters or {},
    }
    return params_with(train=train, **sections)


def decide_with_facts(params: Params, data: Path) -> route.Route:
    facts = route.ModelFacts(params.prepare, params.train, data)
    return route.decide(params, rows=1797, trusted=True, model=facts)


def test_an_own_cnn_goes_to_the_gpu_runner_without_naming_it(tmp_path, monkeypatch) -> None:
    params = own_model_params(tmp_path, monkeypatch, "build")
    decision = decide_with_facts(params, tmp_path / "no-prepared-data")
    assert (decision.runs_on, decision.reason) == (GPU, "route.rules[1] matched")
    assert decision.model_facts["layers"] == ["convolution"]
    # Conv2D: 3x3x1x4 + 4; Dense on the 6x6x4 map: 144 x 10 + 10.
    assert decision.model_facts["parameters"] == (3 * 3 * 4 + 4) + (144 * 10 + 10)


def test_an_own_dense_model_stays_on_github_hosted(tmp_path, monkeypatch) -> None:
    params = own_model_params(tmp_path, monkeypatch, "dense")
    decision = decide_with_facts(params, tmp_path / "no-prepared-data")
    assert decision.runs_on == ["ubuntu-latest"]
    assert decision.model_facts["layers"] == []


def test_parameter_and_input_size_conditions(tmp_path, monkeypatch) -> None:
    rules = [
        {"min_parameters": 10_000, "runs_on": ["big"]},
        {"min_input_size": 64, "runs_on": ["wide"]},
    ]
    small = own_model_params(tmp_path, monkeypatch, "dense", route={"rules": rules})
    decision = decide_with_facts(small, tmp_path)
    assert decision.runs_on == ["wide"]  # 8x8x1 = 64 inputs, 610 parameters
    assert decision.model_facts == {"parameters": 610, "input_size": 64}
    large = own_model_params(
        tmp_path,
        monkeypatch,
        "dense",
        hyperparameters={"units": 512},
        route={"rules": rules},
    )
    assert decide_with_facts(large, tmp_path).runs_on == ["big"]
    # Without facts (no data, unknown input) a model condition never holds.
    assert route.decide(small, rows=None, trusted=True).runs_on == ["ubuntu-latest"]


def test_routing_a_built_in_model_by_layers_does_not_import_tensorflow(tmp_path) -> None:
    # The shipped rules include `layers: [convolution, attention]`; the kit's mlp has none,
    # known without building it, so `ml route` stays fast.
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(params_with(train={"model": "mlp"}).model_dump(mode="json")))
    code = (
        "import sys; from ml import route; from ml.config import load_params; "
        f"p = load_params({str(params)!r}); "
        "f = route.ModelFacts(p.prepare, p.train, __import__('pathlib').Path('none')); "
        "r = route.decide(p, 178, True, f); "
        "print(r.runs_on, r.model_facts, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = run(
        [sys.executable, "-c", code], tmp_path, dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    )
    assert result.stdout.strip() == "['ubuntu-latest'] {'layers': []} False False"


def test_an_image_folder_is_sized_and_routed_before_prepare(tmp_path: Path) -> None:
    from tests.image_folders import write_image_folder

    folder = write_image_folder(tmp_path / "Road Signs", per_class=5)
    params = params_with(
        prepare={
            "source": {"images": str(folder)},
            "image": {"size": [24, 20], "color_mode": "rgb"},
        },
        route={"rules": [{"min_input_size": 24 * 20 * 3, "runs_on": ["wide"]}]},
    )
    assert route.count_rows(params.prepare, tmp_path / "none") == 15
    assert params.serve.model_name == "road-signs"  # named after the folder
    assert params.evaluate.plot == "confusion"
    facts = route.ModelFacts(params.prepare, params.train, tmp_path / "none")
    decision = route.decide(params, rows=15, trusted=True, model=facts)
    assert decision.runs_on == ["wide"]
    assert decision.model_facts["input_size"] == 24 * 20 * 3
