"""Typed, strict view of params.yaml: one pydantic model per stage section.

Every stage validates the whole file before doing any work, so a typo in `train:` stops
`dvc repro` at `prepare` instead of after minutes of data preparation.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import typing
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from ml.errors import UserError

BUNDLED_DATASETS = {
    # name: task. All ship inside scikit-learn, so no download is ever needed.
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}

Fraction = Annotated[float, Field(gt=0, lt=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    """Where the data comes from: exactly one of `bundled`, `path` or `url`."""

    bundled: Literal["digits", "iris", "wine", "breast_cancer", "diabetes"] | None = None
    path: str | None = None
    url: str | None = None
    sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$", description="Expected hash of a url download."
    )

    @model_validator(mode="after")
    def exactly_one_origin(self) -> Source:
        given = [name for name in ("bundled", "path", "url") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of 'bundled', 'path' or 'url' "
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


class PrepareParams(Strict):
    source: Source = Source(bundled="digits")
    task: Literal["classification", "regression"] | None = None
    target: str | None = None
    numeric_features: list[str] = []
    categorical_features: list[str] = []
    missing: Missing = Missing()
    split: Split = Split()
    seed: int = 42

    @model_validator(mode="after")
    def file_sources_declare_columns(self) -> PrepareParams:
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
    def resolved_task(self) -> str:
        return self.task or BUNDLED_DATASETS[self.source.bundled]


class EarlyStopping(Strict):
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    patience: PositiveInt = 8
    min_delta: Annotated[float, Field(ge=0)] = 0.0


class CnnParams(Strict):
    filters: Annotated[list[PositiveInt], Field(min_length=1, max_length=6)] = [32, 64]
    kernel_size: PositiveInt = 3
    dense_units: PositiveInt = 128
    dropout_rate: Annotated[float, Field(ge=0, lt=1)] = 0.3


class MlpParams(Strict):
    units: Annotated[list[PositiveInt], Field(min_length=1, max_length=8)] = [64, 32]
    dropout_rate: Annotated[float, Field(ge=0, lt=1)] = 0.1


class TrainParams(Strict):
    model: Literal["cnn", "mlp"] = "cnn"
    epochs: PositiveInt = 40
    batch_size: PositiveInt = 32
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 1e-3
    seed: int = 42
    early_stopping: EarlyStopping = EarlyStopping()
    cnn: CnnParams = CnnParams()
    mlp: MlpParams = MlpParams()


class EvaluateParams(Strict):
    batch_size: PositiveInt = 256
    # The `dvc plots` template for the test set, read by dvc.yaml: a confusion matrix for
    # classification, predicted-vs-actual points for regression.
    plot: Literal["confusion", "scatter"] = "confusion"


class ExportParams(Strict):
    # Largest allowed |onnxruntime - keras| / max(1, |keras|) over the whole test set: an
    # absolute bound for probabilities, a relative one for regression outputs above 1.
    tolerance: Annotated[float, Field(gt=0, le=1e-2)] = 1e-5
    # Single-row latency is the median of this many onnxruntime calls.
    latency_runs: PositiveInt = 200


# A DNS-1123 label: the served model's name is also its registry name and its Kubernetes name.
ModelName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


class ServeParams(Strict):
    """`ml serve`: the inference service."""

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
    port: Annotated[int, Field(ge=1, le=65535)] = 8080


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


class Params(Strict):
    prepare: PrepareParams = PrepareParams()
    train: TrainParams = TrainParams()
    evaluate: EvaluateParams = EvaluateParams()
    export: ExportParams = ExportParams()
    serve: ServeParams = ServeParams()
    deploy: DeployParams = DeployParams()
    monitor: MonitorParams = MonitorParams()

    @model_validator(mode="before")
    @classmethod
    def empty_sections_mean_defaults(cls, raw: object) -> object:
        # `export:` with every key commented out is YAML null: read it as "all defaults".
        if isinstance(raw, dict):
            return {key: {} if value is None else value for key, value in raw.items()}
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


def describe_error(error: dict) -> str:
    """One readable line per pydantic error: dotted key, problem, and what is allowed."""
    location = [part for part in error["loc"] if isinstance(part, str)]
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = sorted(fields_at(location[:-1]))
        close = difflib.get_close_matches(location[-1], allowed, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return f"{key}: unknown key.{hint} Allowed here: {', '.join(allowed)}"
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


def model_params_hash(params: Params) -> str:
    """Stable short hash of what the model depends on: the prepare and train sections,
    defaults included."""
    sections = params.model_dump(mode="json", include={"prepare", "train"})
    return hashlib.sha256(json.dumps(sections, sort_keys=True).encode()).hexdigest()[:16]


def section_hash(section: BaseModel, *extra: str) -> str:
    canonical = json.dumps(section.model_dump(mode="json"), sort_keys=True) + "".join(extra)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
