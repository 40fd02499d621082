"""Per-worker state: the model (hot-reloaded), what is derived from it, limits, sampling and
metrics, and the few steps every inference request shares."""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import warnings

import numpy as np
from starlette.types import Receive

from ml.serve import page
from ml.serve.features import NamedFeatures
from ml.serve.metrics import Metrics
from ml.serve.model import LoadedModel
from ml.serve.reload import ModelHolder
from ml.serve.sampling import InputSampler
from ml.serve.settings import Settings
from ml.serve.validation import RequestError

log = logging.getLogger("ml.serve")

JSON_TYPE = b"application/json"


@dataclasses.dataclass(frozen=True)
class Served:
    """A model with everything derived from its metadata, swapped as one."""

    model: LoadedModel
    named: NamedFeatures | None
    page: bytes

    @classmethod
    def build(cls, model: LoadedModel, name: str) -> Served:
        named = NamedFeatures(model.encoding) if model.encoding else None
        return cls(model, named, page.render(model, name))


class Service:
    def __init__(self, settings: Settings) -> None:
        # Numbers beyond float32 are refused as infinity by the request checks; NumPy's warning
        # about the overflowing cast would only fill the log.
        warnings.filterwarnings("ignore", "overflow encountered in cast", RuntimeWarning)
        self.settings = settings
        self.name = settings.model_name
        self.metrics = Metrics()
        self.sampler = InputSampler(
            settings.sample_dir, settings.sample_every, settings.sample_max_bytes
        )
        self.holder = ModelHolder(
            settings.model_path,
            settings.threads_per_worker,
            settings.reload_interval_seconds,
            on_reload=self.reloaded,
            on_tick=self.tick,
        )
        self.current = Served.build(self.holder.current, self.name)
        self.metrics.serving(self.name, self.current.model.version, None)
        model = self.current.model
        log.info(
            "Worker %d loaded %s version %s (%s)",
            os.getpid(),
            self.name,
            model.version,
            model.task,
        )

    def start(self) -> None:
        self.holder.start()
        # What is loaded by now (the web stack, the model, the app) lives as long as the worker:
        # out of the garbage collector's sight, full collections stop walking it again and
        # again on the request path.
        gc.freeze()

    def stop(self) -> None:
        self.holder.stop()
        self.metrics.flush()
        self.sampler.close()

    def tick(self) -> None:
        """Every reload interval, from the reload thread: what the request path tallied or
        buffered reaches the metrics files and the sample files."""
        self.metrics.flush()
        self.sampler.flush()

    def reloaded(self, result: str, previous: LoadedModel, current: LoadedModel) -> None:
        self.metrics.reloads.labels(result).inc()
        if result == "loaded":
            self.metrics.serving(self.name, current.version, previous.version)

    def served(self, name: str, version: str | None = None) -> Served:
        """The model for a request to `name` (and `version`); 404 for any other."""
        if name != self.name:
            raise RequestError(404, f"model {name!r} not found; this service serves {self.name!r}")
        served = self.current
        if served.model is not self.holder.current:  # the reload thread swapped the model
            served = self.current = Served.build(self.holder.current, self.name)
        if version is not None and version != served.model.version:
            raise RequestError(
                404, f"version {version!r} of {name!r} not found; serving {served.model.version}"
            )
        return served

    async def read_body(self, headers: list[tuple[bytes, bytes]], receive: Receive) -> bytes:
        """The JSON body of a request with these raw ASGI headers, read from `receive`, within
        the size limit; 415 for anything but JSON."""
        content_type, length = header_values(headers)
        if content_type != JSON_TYPE and content_type.split(b";")[0].strip().lower() != JSON_TYPE:
            got = content_type.decode("latin-1") or "no type"
            raise RequestError(415, f"send the body as application/json (got {got!r})")
        limit = self.settings.max_body_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            await drain(receive, limit)
            raise RequestError(413, f"the body has {int(length)} bytes; the limit is {limit}")
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            raise RequestError(400, "the client disconnected before sending the whole body")
        body: bytes = message.get("body", b"")
        # Nearly every body arrives in one message; the rest are read and joined in a loop.
        if message.get("more_body", False):
            body = await read_rest(body, receive, limit)
        elif len(body) > limit:
            raise RequestError(413, f"the body exceeds the limit of {limit} bytes")
        return body

    def predict(self, model: LoadedModel, rows: np.ndarray, served: bool = True) -> np.ndarray:
        """The model's outputs for `rows`, counted; sampled when they are `served` traffic, not
        a check of the service (ml/serve/sampling.py)."""
        result = model.predict(rows)
        self.metrics.predicted(len(rows))
        if served:
            self.sampler.record(rows, result, model.version)
        return result


async def read_rest(first: bytes, receive: Receive, limit: int) -> bytes:
    """The whole body of a request whose first message held `first` and said more follows."""
    chunks, received, more = [first], len(first), True
    while more:
        if received > limit:
            await drain(receive, limit)
            raise RequestError(413, f"the body exceeds the limit of {limit} bytes")
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            raise RequestError(400, "the client disconnected before sending the whole body")
        chunks.append(message.get("body", b""))
        received += len(chunks[-1])
        more = message.get("more_body", False)
    if received > limit:
        raise RequestError(413, f"the body exceeds the limit of {limit} bytes")
    return b"".join(chunks)


def header_values(headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes | None]:
    """Content-Type and Content-Length from the raw ASGI headers (lower-case names), without
    building Starlette's Headers object on the hot path."""
    content_type, length = b"", None
    for name, value in headers:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = value
    return content_type, length


async def drain(receive: Receive, limit: int) -> None:
    """Read and drop the rest of an oversized body (up to 16 x the limit) so the client reads
    the 413 answer instead of a reset connection; beyond that the connection is closed."""
    received = 0
    while received <= 16 * limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
