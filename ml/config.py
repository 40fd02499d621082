"""Typed, strict view of params.yaml: one pydantic model per stage section.

Every stage validates the whole file before doing any work, so a typo in `train:` stops
`dvc repro` at `prepare` instead of after minutes of data preparation.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlparse

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    StrictBool,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from ml import dotted, model_reference
from ml.datasets import BUNDLED_DATASETS
from ml.errors import UserError

# The table's names as a Literal, so a wrong name gets "Input should be 'digits', 'iris', ...".
if TYPE_CHECKING:
    BundledName = str  # a Literal built at run time is opaque to mypy; pydantic checks the names
else:
    BundledName = Literal[tuple(BUNDLED_DATASETS)]

Fraction = Annotated[float, Field(gt=0, lt=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ORIGINS = ("bundled", "path", "url", "images")


class Source(Strict):
    """Where the data comes from: exactly one of `bundled`, `path`, `url` or `images`."""

    bundled: BundledName | None = None
    path: str | None = None
    url: str | None = None
    # A directory with one sub-folder of PNG or JPEG images per class, named by its class.
    images: str | None = None
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="Expected hash of a url download."
    )

    @model_validator(mode="after")
    def exactly_one_origin(self) -> Source:
        given = [name for name in ORIGINS if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of 'bundled', 'path', 'url' or 'images' "
                f"(got {', '.join(given) if given else 'none'})"
            )
        if self.path and not self.path.endswith((".csv", ".parquet")):
            raise ValueError(f"path must end in .csv or .parquet, got {self.path!r}")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        if self.sha256 and not self.url:
            raise ValueError("sha256 only applies to a url source")
        return self


class Missing(Strict):
    """How missing feature values are filled. Statistics come from the training split only."""

    numeric: Literal["median", "mean", "zero", "drop_row", "error"] = "median"
    categorical: Literal["most_frequent", "constant", "drop_row", "error"] = "most_frequent"


class Split(Strict):
    train: Fraction = 0.7
    validation: Fraction = 0.15
    test: Fraction = 0.15

    @model_validator(mode="after")
    def sums_to_one(self) -> Split:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"train + validation + test must sum to 1, got "
                f"{self.train} + {self.validation} + {self.test} = {total:.4g}"
            )
        return self


class ImageParams(Strict):
    """How an image-folder source becomes model input. Every image, whatever its own size, is
    resized to `size` (height, width) with bilinear filtering, aspect ratio not kept, and its
    pixels scaled to 0..1: the same rule in train, evaluate, export and the service."""

    size: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] = [32, 32]
    color_mode: Literal["grayscale", "rgb"] = "rgb"


class PrepareParams(Strict):
    source: Source = Source(bundled="digits")
    # For an `images` source only.
    image: ImageParams | None = None
    task: Literal["classification", "regression"] | None = None
    target: str | None = None
    numeric_features: list[str] = []
    categorical_features: list[str] = []
    missing: Missing = Missing()
    split: Split = Split()
    seed: int = 42

    @model_validator(mode="after")
    def file_sources_declare_columns(self) -> PrepareParams:
        if self.image is not None and not self.source.images:
            raise ValueError("'image' (size, color_mode) applies to an 'images' source only")
        if self.source.images:
            if self.target or self.numeric_features or self.categorical_features:
                raise ValueError(
                    "an 'images' source takes its classes from its sub-folders: "
                    "leave target and the feature lists unset"
                )
            if self.task not in (None, "classification"):
                raise ValueError("an 'images' source is a classification task")
            return self
        if self.source.bundled:
            if self.target or self.numeric_features or self.categorical_features or self.task:
                raise ValueError(
                    "task, target and feature lists come with a bundled dataset; "
                    "set them only for a 'path' or 'url' source"
                )
            return self
        if not self.target:
            raise ValueError("a 'path' or 'url' source needs 'target' (the column to predict)")
        if not self.task:
            raise ValueError("a 'path' or 'url' source needs 'task': classification or regression")
        features = self.numeric_features + self.categorical_features
        if not features:
            raise ValueError("declare at least one of numeric_features or categorical_features")
        duplicated = sorted({name for name in features if features.count(name) > 1})
        if duplicated:
            raise ValueError(f"features listed more than once: {', '.join(duplicated)}")
        if self.target in features:
            raise ValueError(f"target {self.target!r} is also listed as a feature")
        return self

    @property
    def image_settings(self) -> ImageParams:
        """Size and colour mode of an image-folder source (the defaults unless set)."""
        return self.image or ImageParams()

    @property
    def resolved_task(self) -> str:
        if self.task:
            return self.task
        if self.source.images:
            return "classification"
        if self.source.bundled is None:  # the validator above refuses a file without a task
            raise ValueError("prepare.task: a file source needs its task")
        return BUNDLED_DATASETS[self.source.bundled].task


class EarlyStopping(Strict):
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    patience: PositiveInt = 10
    min_delta: Annotated[float, Field(ge=0)] = 0.0


class CnnParams(Strict):
    filters: Annotated[list[PositiveInt], Field(min_length=1, max_length=6)] = [32, 64]
    kernel_size: PositiveInt = 3
    dense_units: PositiveInt = 128
    dropout_rate: Annotated[float, Field(ge=0, lt=1)] = 0.3


class MlpParams(Strict):
    units: Annotated[list[PositiveInt], Field(min_length=1, max_length=8)] = [64, 32]
    dropout_rate: Annotated[float, Field(ge=0, lt=1)] = 0.1


class GpuParams(Strict):
    """Speed-ups for GPU training. Each one also works on a CPU (usually without gaining there),
    and the saved model and its ONNX export are always float32."""

    # float16 compute with float32 weights: ~2-3x faster on GPUs with tensor cores.
    mixed_precision: StrictBool = False
    # XLA compilation of the training step. "auto" is Keras' default: on with a GPU, off on CPU.
    jit_compile: Literal["auto"] | StrictBool = "auto"
    cache_dataset: StrictBool = True
    prefetch: StrictBool = True
    # With N replicas each step takes N * batch_size rows, so every GPU gets batch_size rows.
    scale_batch_size_with_replicas: StrictBool = True
    # auto: MirroredStrategy over all local GPUs when there are two or more.
    distribute: Literal["auto", "off", "mirrored"] = "auto"


class Augment(Strict):
    """Light augmentation of image-folder training batches; evaluation sees the images as they
    are."""

    flip: StrictBool = False  # mirror left-right at random
    shift: Annotated[float, Field(ge=0, le=0.5)] = 0.0  # shift by up to this share of the size

    @property
    def active(self) -> bool:
        return self.flip or self.shift > 0


BUILT_IN_MODELS = ("cnn", "mlp")


def check_model(value: str) -> str:
    if value in BUILT_IN_MODELS:
        return value
    model_reference.parse(value)  # raises ValueError naming what is wrong
    return value


class TrainParams(Strict):
    # A built-in architecture, or the team's own build function: `models/net.py:build` (a file
    # in the repository) or `mypackage.models:build` (an installed module).
    model: Annotated[str, AfterValidator(check_model)] = "cnn"
    # The file dvc.yaml lists as a dependency of `train` (`${train.model_file}`), so editing it
    # re-runs training: the file `model` names, or the kit's own models module.
    model_file: str | None = None
    # Free-form settings handed to a team's own build function (layer sizes, ...).
    hyperparameters: dict[str, Any] = {}
    epochs: PositiveInt = 60  # an upper bound: early stopping usually ends training sooner
    batch_size: PositiveInt = 32
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 1e-3  # Adam's own default
    seed: int = 42
    early_stopping: EarlyStopping = EarlyStopping()
    cnn: CnnParams = CnnParams()
    mlp: MlpParams = MlpParams()
    gpu: GpuParams = GpuParams()
    augment: Augment = Augment()  # image folders only

    @model_validator(mode="after")
    def model_file_names_the_model(self) -> TrainParams:
        reference = (
            model_reference.parse(self.model) if self.model not in BUILT_IN_MODELS else None
        )
        file = reference.path if reference is not None else None
        if (
            file is not None
            and self.model_file is not None
            and Path(self.model_file) != Path(file)
        ):
            raise ValueError(
                f"model_file is {self.model_file!r} but model names {file!r}: set "
                f"model_file: {file} so dvc.yaml re-runs train when the file changes"
            )
        if self.hyperparameters and reference is None:
            raise ValueError(
                "hyperparameters go to your own build function; the built-in "
                f"'{self.model}' model takes its settings from train.{self.model}"
            )
        return self

    @property
    def reference(self) -> model_reference.Reference | None:
        """The team's build function, or None for a built-in model."""
        return None if self.model in BUILT_IN_MODELS else model_reference.parse(self.model)


class EvaluateParams(Strict):
    batch_size: PositiveInt = 256
    # The `dvc plots` template for the test set, read by dvc.yaml: a confusion matrix for
    # classification, predicted-vs-actual points for regression. Default: the task's.
    plot: Literal["confusion", "scatter"] = "confusion"


class ExportParams(Strict):
    # Largest allowed |onnxruntime - keras| / max(1, |keras|) over the whole test set: an
    # absolute bound for probabilities, a relative one for regression outputs above 1.
    tolerance: Annotated[float, Field(gt=0, le=1e-2)] = 1e-5
    # Single-row latency is the median of this many onnxruntime calls.
    latency_runs: PositiveInt = 200


# Which way is better, for every metric the report, the gate and the search compare.
HIGHER_IS_BETTER = {"accuracy": True, "f1_macro": True, "r2": True, "rmse": False, "mae": False}
CLASSIFICATION_METRICS = ("accuracy", "f1_macro")
REGRESSION_METRICS = ("rmse", "mae", "r2")
# The one higher-is-better score of each task, what `gate.min_score` holds to a threshold.
SCORE_METRIC = {"classification": "accuracy", "regression": "r2"}


class GateParams(Strict):
    """Quality gate on the test metrics of metrics/evaluate.json; unset thresholds are skipped."""

    # The task's headline score, whatever the data: accuracy for classification, r2 for
    # regression. Switching the data set between tasks keeps this threshold meaningful.
    min_score: Annotated[float, Field(le=1)] | None = None
    min_accuracy: Annotated[float, Field(ge=0, le=1)] | None = None
    min_f1_macro: Annotated[float, Field(ge=0, le=1)] | None = None
    min_r2: Annotated[float, Field(le=1)] | None = None
    max_rmse: Annotated[float, Field(gt=0)] | None = None
    max_mae: Annotated[float, Field(gt=0)] | None = None
    # How much worse than the PR's base commit the primary metric (accuracy for classification,
    # rmse for regression) may get, in that metric's own units (0.02 = two accuracy points).
    max_regression: Annotated[float, Field(ge=0)] | None = None

    def thresholds(self, task: str) -> dict[str, tuple[str, float]]:
        """{metric: ("min" | "max", limit)} for every threshold that is set, min_score as
        the task's own score metric (a metric's own threshold wins over min_score)."""
        found = {}
        if self.min_score is not None:
            found[SCORE_METRIC[task]] = ("min", self.min_score)
        for name, limit in self.model_dump(exclude={"max_regression", "min_score"}).items():
            if limit is not None:
                bound, metric = name.split("_", 1)
                found[metric] = (bound, limit)
        return found

    def key_of(self, metric: str, task: str) -> str:
        """The params key that set `metric`'s threshold: gate.min_score or the metric's own."""
        own = f"min_{metric}" if HIGHER_IS_BETTER[metric] else f"max_{metric}"
        if getattr(self, own, None) is None and SCORE_METRIC[task] == metric:
            return "gate.min_score"
        return f"gate.{own}"


class SearchDimension(Strict):
    """One axis of the architecture search: a list of `choices`, or a range `low`..`high`."""

    choices: Annotated[list[Any], Field(min_length=1)] | None = None
    low: int | float | None = None
    high: int | float | None = None
    log: bool = False  # sample the range on a log scale (learning rates)

    @model_validator(mode="after")
    def choices_or_range(self) -> SearchDimension:
        has_range = self.low is not None or self.high is not None
        if (self.choices is None) == (not has_range):
            raise ValueError("give either 'choices' or both 'low' and 'high'")
        if has_range:
            if self.low is None or self.high is None or not self.low < self.high:
                raise ValueError(f"need low < high, got low={self.low}, high={self.high}")
            if self.log and self.low <= 0:
                raise ValueError(f"a log range needs low > 0, got {self.low}")
        elif self.log:
            raise ValueError("'log' applies to a low/high range, not to choices")
        return self

    def edge_values(self) -> list[Any]:
        """The values that prove the whole dimension valid: every choice, or both ends."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]


class TuneParams(Strict):
    """Bounded architecture search (`ml tune`) over `train` settings, with Optuna."""

    # Per-epoch validation metric the search optimises; default val_accuracy for
    # classification, val_loss for regression. Never a test metric: the test split stays unseen.
    metric: Literal["val_accuracy", "val_loss", "val_rmse", "val_mae"] | None = None
    trials: PositiveInt = 12
    timeout_minutes: Annotated[float, Field(gt=0)] = 20.0
    seed: int = 42
    # A trial is pruned when its metric is worse than the median of earlier trials at the same
    # epoch; not before this many trials have finished, nor before this epoch.
    prune_startup_trials: NonNegativeInt = 3
    prune_warmup_epochs: NonNegativeInt = 3
    # Keys are dotted paths inside `train` (learning_rate, cnn.filters, mlp.units, ...).
    space: dict[str, SearchDimension] = {}
    # Fixed configurations tried first, each a mapping of the same dotted keys to values.
    candidates: list[dict[str, Any]] = []

    def resolved_metric(self, task: str) -> str:
        return self.metric or ("val_accuracy" if task == "classification" else "val_loss")


# A runner label as `runs-on` takes it, and a container image pinned by digest (a tag can be
# moved to other content; a digest cannot), or empty for no container.
RunnerLabel = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
ImageRef = Annotated[
    str, Field(pattern=r"^([a-z0-9][a-z0-9./_-]*(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64})?$")
]
# Runner names GitHub hosts (ubuntu-latest, ubuntu-24.04, windows-2022, macos-14, ...). Any
# other label list may select a self-hosted machine.
GITHUB_HOSTED_LABEL = re.compile(r"^(ubuntu|windows|macos)-[0-9a-z.-]+$")


class Runner(Strict):
    """Where a job runs: the `runs-on` labels and, optionally, a job container image."""

    runs_on: Annotated[list[RunnerLabel], Field(min_length=1)]
    image: ImageRef = ""

    @property
    def self_hosted(self) -> bool:
        labels = self.runs_on
        return not (len(labels) == 1 and GITHUB_HOSTED_LABEL.match(labels[0]))


LayerKind = Literal["convolution", "attention", "recurrent"]


class RouteRule(Runner):
    """Train on this runner when every condition that is set holds; the first match wins."""

    model: Literal["cnn", "mlp", "custom"] | None = None  # custom: a team's own build function
    min_rows: NonNegativeInt | None = None  # rows of the whole data set, all splits
    min_epochs: PositiveInt | None = None
    # Conditions on the model as built (without training it): it has any of these kinds of
    # layers, at least this many parameters, at least this many input values per example.
    layers: Annotated[list[LayerKind], Field(min_length=1)] | None = None
    min_parameters: NonNegativeInt | None = None
    min_input_size: PositiveInt | None = None


GPU_RUNNER = ["self-hosted", "linux", "gpu"]


class RouteParams(Strict):
    """`ml route`: which runner (and container) trains this pipeline in a workflow."""

    rules: list[RouteRule] = [
        RouteRule(model="cnn", runs_on=GPU_RUNNER),
        RouteRule(layers=["convolution", "attention"], runs_on=GPU_RUNNER),
        RouteRule(model="mlp", min_rows=1_000_000, runs_on=GPU_RUNNER),
    ]
    default: Runner = Runner(runs_on=["ubuntu-latest"])
    # Pull requests from forks: a GitHub-hosted runner, or null to skip training for them.
    fork: Runner | None = Runner(runs_on=["ubuntu-latest"])

    @model_validator(mode="after")
    def forks_stay_on_github_hosted_runners(self) -> RouteParams:
        if self.fork is not None and self.fork.self_hosted:
            raise ValueError(
                f"fork.runs_on must be one GitHub-hosted runner such as ubuntu-latest, got "
                f"{self.fork.runs_on}: code from forks never runs on a self-hosted machine"
            )
        return self


# A DNS-1123 label: the served model's name is also its registry name and its Kubernetes name.
ModelName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


class ServeParams(Strict):
    """`ml serve`: the inference service."""

    # Default: from the data set's name (digits, or wine for data/raw/wine.csv).
    model_name: ModelName = "model"
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    # workers x threads_per_worker should not exceed the cores.
    workers: Annotated[int, Field(ge=1, le=64)] = 2
    threads_per_worker: Annotated[int, Field(ge=1, le=64)] = 1
    max_batch_rows: PositiveInt = 1024
    max_body_bytes: PositiveInt = 4 * 1024 * 1024
    reload_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    graceful_timeout_seconds: Annotated[float, Field(ge=0)] = 10.0
    # Every Nth predicted row goes to the sample files read by `ml monitor` (0: none).
    sample_every: Annotated[int, Field(ge=0)] = 10
    sample_max_bytes: PositiveInt = 8 * 1024 * 1024


class SmokeParams(Strict):
    """Checks a new deployment must pass before it becomes the champion."""

    timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    # Share of the model's held-out examples the service must get right (classification), and
    # the largest |served - local onnxruntime| per output value.
    min_accuracy: Annotated[float, Field(ge=0, le=1)] = 0.5
    max_abs_diff: Annotated[float, Field(gt=0)] = 1e-4


class DockerParams(Strict):
    image: str = "runwright-serve"
    base_image: str = "python:3.11-slim-bookworm"
    # The host port the container is published on: not serve.port, so the container and a
    # local `ml serve` can run on one machine side by side.
    port: Annotated[int, Field(ge=1, le=65535)] = 8081


class KServeParams(Strict):
    namespace: ModelName = "default"
    # Where KServe's storage initializer fetches the model directory (s3://, gs://, pvc://...);
    # unset: the registered version's artifact location.
    storage_uri: str | None = None
    runtime: str | None = None  # a ServingRuntime name; unset: KServe picks one for ONNX
    canary_traffic_percent: Annotated[int, Field(ge=0, le=100)] | None = None
    min_replicas: Annotated[int, Field(ge=0)] = 1
    max_replicas: Annotated[int, Field(ge=1)] = 1
    cpu: str = "1"
    memory: str = "1Gi"
    # The kit's serving image as the cluster pulls it (the docker target's image, pushed to a
    # registry); with it, a ServingRuntime running that image is rendered and used.
    image: str | None = None
    # The service's address for the smoke test; unset: the InferenceService's status URL.
    url: str | None = None
    apply: bool = False  # run `kubectl apply` (the deploy workflow sets this)

    @model_validator(mode="after")
    def replicas_in_order(self) -> KServeParams:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas ({self.max_replicas}) is below min_replicas ({self.min_replicas})"
            )
        return self


class DeployParams(Strict):
    target: Literal["local", "docker", "kserve"] = "local"
    smoke: SmokeParams = SmokeParams()
    docker: DockerParams = DockerParams()
    kserve: KServeParams = KServeParams()


class MonitorParams(Strict):
    probe_timeout_seconds: Annotated[float, Field(gt=0)] = 5.0
    probe_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    restore: bool = True  # restart, or redeploy the champion, when probes fail
    # A column drifts when its PSI reaches psi_threshold; the inputs drift when at least
    # drift_share of the columns do.
    psi_threshold: Annotated[float, Field(gt=0)] = 0.2
    drift_share: Annotated[float, Field(gt=0, le=1)] = 0.1
    min_samples: PositiveInt = 200
    window_rows: PositiveInt = 5000  # the most recent sampled rows compared with the reference
    issue_label: str = "model-drift"
    # Workflow file dispatched on drift (e.g. retrain.yml); unset: report only.
    retrain_workflow: str | None = None
    retrain_ref: str = "main"
    # While the drift issue stays open, drift dispatches retraining again only this long after
    # the last dispatch recorded in the issue (the monitor runs every 30 minutes).
    retrain_every_hours: Annotated[float, Field(gt=0)] = 24.0


class Params(Strict):
    prepare: PrepareParams = PrepareParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams = ExportParams()
    gate: GateParams = GateParams()
    tune: TuneParams = TuneParams()
    route: RouteParams = RouteParams()
    serve: ServeParams = ServeParams()
    deploy: DeployParams = DeployParams()
    monitor: MonitorParams = MonitorParams()

    @model_validator(mode="before")
    @classmethod
    def empty_sections_mean_defaults(cls, raw: object) -> object:
        # `export:` with every key commented out is YAML null: read it as "all defaults".
        if isinstance(raw, dict):
            raw = {key: {} if value is None else value for key, value in raw.items()}
            return defaults_from_data(raw)
        return raw

    @model_validator(mode="after")
    def plot_matches_task(self) -> Params:
        wanted = "confusion" if self.prepare.resolved_task == "classification" else "scatter"
        if self.evaluate.plot != wanted:
            raise ValueError(
                f"evaluate.plot must be '{wanted}' for a {self.prepare.resolved_task} task "
                f"(dvc.yaml draws the test-set plot with this template), got "
                f"'{self.evaluate.plot}'"
            )
        return self

    @model_validator(mode="after")
    def augment_needs_image_files(self) -> Params:
        if self.train.augment.active and not self.prepare.source.images:
            raise ValueError(
                "train.augment applies to an image-folder source (prepare.source.images)"
            )
        return self

    @model_validator(mode="after")
    def gate_matches_task(self) -> Params:
        task = self.prepare.resolved_task
        allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
        for metric, (bound, _) in self.gate.thresholds(task).items():
            if metric not in allowed:
                raise ValueError(
                    f"gate.{bound}_{metric} does not apply to a {task} task; "
                    f"its test metrics are {', '.join(allowed)}"
                )
        if task == "regression" and self.tune.metric == "val_accuracy":
            raise ValueError("tune.metric 'val_accuracy' needs a classification task")
        if task == "classification" and self.tune.metric in ("val_rmse", "val_mae"):
            raise ValueError(f"tune.metric '{self.tune.metric}' needs a regression task")
        return self

    @model_validator(mode="after")
    def search_stays_within_train(self) -> Params:
        """Every search value must make a valid `train` section, so no trial fails on params."""
        tried = [
            (f"tune.space.{key}", {key: value})
            for key, dimension in self.tune.space.items()
            for value in dimension.edge_values()
        ]
        tried += [(f"tune.candidates[{i}]", c) for i, c in enumerate(self.tune.candidates)]
        for where, overrides in tried:
            try:
                train_with(self.train, overrides)
            except (dotted.DottedKeyError, ValidationError) as exc:
                raise ValueError(f"{where}: {describe_override_error(exc)}") from None
        return self


def defaults_from_data(raw: dict) -> dict:
    """Fill the settings whose default depends on the data and the model, where unset: the
    test-set plot (by task), the served model's name (by data set), the search space (by model
    kind). A value the user set is kept as it is, and checked like any other."""
    prepare = raw.get("prepare", {})
    train = raw.get("train", {})
    if not isinstance(prepare, dict) or not isinstance(train, dict):
        return raw  # the schema reports the wrong type
    source = prepare.get("source", {"bundled": "digits"})
    task, name = data_task_and_name(source if isinstance(source, dict) else {}, prepare)
    filled = dict(raw)
    sections = {"evaluate": {}, "serve": {}, "tune": {}} | {
        key: value for key, value in raw.items() if key in ("evaluate", "serve", "tune")
    }
    plot = {"classification": "confusion", "regression": "scatter"}.get(task or "")
    derived: tuple[tuple[str, str, Any], ...] = (
        ("evaluate", "plot", plot),
        ("serve", "model_name", model_name_for(name)),
        ("tune", "space", default_space(train)),
    )
    for section, key, value in derived:
        current = sections[section]
        # Fixed `candidates` without a `space` mean "try just these".
        unset = isinstance(current, dict) and key not in current
        if unset and value is not None and not (section == "tune" and "candidates" in current):
            filled[section] = {**current, key: value}
            sections[section] = filled[section]
    return filled


def data_task_and_name(source: dict, prepare: dict) -> tuple[str | None, str | None]:
    bundled = source.get("bundled")
    if isinstance(bundled, str) and bundled in BUNDLED_DATASETS:
        return BUNDLED_DATASETS[bundled].task, bundled
    folder = source.get("images")
    if isinstance(folder, str):
        return "classification", PurePosixPath(folder).name or None
    location = source.get("path") or source.get("url")
    task = prepare.get("task")
    name = PurePosixPath(urlparse(location).path).stem if isinstance(location, str) else None
    return (task if isinstance(task, str) else None), name


def model_name_for(data_name: str | None) -> str | None:
    """A DNS-1123 label from the data set's name: "Fuel Consumption.csv" -> fuel-consumption."""
    if not data_name:
        return None
    label = re.sub(r"[^a-z0-9]+", "-", data_name.lower()).strip("-")[:63].strip("-")
    return label or None


# The search space when `tune.space` is unset, per built-in model kind: dotted `train` keys.
BUILT_IN_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "cnn": {
        "cnn.filters": {"choices": [[16, 32], [32, 64], [32, 64, 128]]},
        "cnn.dense_units": {"choices": [64, 128, 256]},
        "cnn.dropout_rate": {"low": 0.1, "high": 0.5},
    },
    "mlp": {
        "mlp.units": {"choices": [[32], [64, 32], [128, 64]]},
        "mlp.dropout_rate": {"low": 0.0, "high": 0.4},
    },
}
LEARNING_RATE_RANGE = {"low": 0.0005, "high": 0.01, "log": True}


def default_space(train: dict) -> dict[str, dict[str, Any]]:
    model = train.get("model", "cnn")
    if model in BUILT_IN_SPACES:
        return {"learning_rate": LEARNING_RATE_RANGE, **BUILT_IN_SPACES[model]}
    hyperparameters = train.get("hyperparameters", {})
    if not isinstance(hyperparameters, dict):
        return {}
    space: dict[str, dict[str, Any]] = {"learning_rate": LEARNING_RATE_RANGE}
    for key, value in hyperparameters.items():
        dimension = around(value)
        if dimension is not None and dotted.is_key(f"hyperparameters.{key}"):
            space[f"hyperparameters.{key}"] = dimension
    return space


def around(value: Any) -> dict[str, Any] | None:
    """A search dimension around a team's own hyperparameter: half to double its value."""
    if isinstance(value, bool):
        return {"choices": [False, True]}
    if isinstance(value, int) and value > 0:
        return {"choices": sorted({max(1, value // 2), value, value * 2})}
    if isinstance(value, float) and 0 < value < 1:  # a rate: stays below 1
        return {"low": value / 2, "high": min(value * 2, (1 + value) / 2)}
    if isinstance(value, float) and value >= 1:
        return {"low": value / 2, "high": value * 2}
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(item, int) and not isinstance(item, bool) and item > 0 for item in value
        )
    ):
        halved = [max(1, item // 2) for item in value]
        return {"choices": [halved, value, [item * 2 for item in value]]}
    return None  # text, nested settings, zero or negative numbers: not searched by default


class ParamsError(UserError, ValueError):
    """params.yaml is missing, unreadable or invalid; the message names every bad key."""


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        # A directory, an unreadable or a binary file: still the user's to fix, so no traceback.
        raise ParamsError(f"{path}: cannot read params: {exc}") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw if raw is not None else {}, source=str(path))


def parse_params(raw: object, source: str = "params") -> Params:
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        lines = [describe_error(error) for error in exc.errors()]
        listed = "\n".join(f"  - {line}" for line in lines)
        raise ParamsError(f"{source} is invalid:\n{listed}") from None


def describe_error(error: ErrorDetails) -> str:
    """One readable line per pydantic error: dotted key, problem, and what is allowed."""
    location = [part for part in error["loc"] if isinstance(part, str)]
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{key}: {dotted.unknown_key_problem(location[-1], fields_at(location[:-1]))}"
    message = error["msg"].removeprefix("Value error, ")
    if isinstance(error.get("input"), dict):
        # A cross-field check: its message already names the values, and the input is the
        # whole section (the whole file at top level), far too long to repeat.
        return f"{key}: {message}"
    return f"{key}: {message} (got {error.get('input')!r})"


def fields_at(location: list[str]) -> set[str]:
    """Names of the fields of the model found by walking `location` down from Params."""
    model: type[BaseModel] = Params
    for name in location:
        field = model.model_fields.get(name)
        if field is None:
            break
        nested = [
            arg
            for arg in (field.annotation, *typing.get_args(field.annotation))
            if isinstance(arg, type) and issubclass(arg, BaseModel)
        ]
        if not nested:
            break
        model = nested[0]
    return set(model.model_fields)


def train_with(base: TrainParams, changes: dict[str, Any]) -> TrainParams:
    """`base` with dotted `train` keys changed ({'cnn.filters': [16]}). Only settings that
    exist, and one value each (not a whole section such as `cnn`), so a search key cannot
    silently add a setting. DottedKeyError or ValidationError name the key."""
    within = {f"train.{key}": value for key, value in changes.items()}
    raw = dotted.updated({"train": base.model_dump(mode="json")}, within)
    return TrainParams.model_validate(raw["train"])


def describe_override_error(exc: dotted.DottedKeyError | ValidationError) -> str:
    if isinstance(exc, dotted.DottedKeyError):
        return str(exc)
    first = exc.errors()[0]
    key = "train." + ".".join(str(part) for part in first["loc"])
    return f"{key}: {first['msg'].removeprefix('Value error, ')} (got {first.get('input')!r})"


def model_params_hash(params: Params) -> str:
    """Stable short hash of what the model depends on: the prepare and train sections,
    defaults included."""
    sections = params.model_dump(mode="json", include={"prepare", "train"})
    return hashlib.sha256(json.dumps(sections, sort_keys=True).encode()).hexdigest()[:16]


def section_hash(section: BaseModel, *extra: str) -> str:
    canonical = json.dumps(section.model_dump(mode="json"), sort_keys=True) + "".join(extra)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
