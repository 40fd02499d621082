"""Prometheus metrics at /metrics: requests and their latency, errors, predicted rows, the model
version and reloads. With several workers, each writes to PROMETHEUS_MULTIPROC_DIR (set by
`ml serve`) and /metrics adds up every worker's files, whichever worker answers the scrape."""

from __future__ import annotations

import bisect
import math
import os
import threading
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Seconds; a loopback request to a small model takes about 0.2-1 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
BOUNDS = (*LATENCY_BUCKETS, math.inf)  # the histogram's buckets, +Inf last as it adds it


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["endpoint", "status"]
        # Its _count series is the request count by endpoint and status.
        self.latency = Histogram(
            "runwright_request_duration_seconds",
            "Time from request to response, by endpoint and status; _count counts requests.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "runwright_request_errors",
            "Requests answered 4xx or 5xx.",
            labels,
            registry=self.registry,
        )
        self.rows = Counter("runwright_predicted_rows", "Rows predicted.", registry=self.registry)
        self.model = Gauge(
            "runwright_model_info",
            "1 for the model version being served, 0 for earlier ones.",
            ["model", "version"],
            multiprocess_mode="mostrecent",
            registry=self.registry,
        )
        self.reloads = Counter(
            "runwright_model_reloads",
            "Model file changes handled, by result.",
            ["result"],
            registry=self.registry,
        )
        self._children: dict[tuple, tuple] = {}
        # Requests and rows are tallied in memory on the request path and written to the
        # Prometheus values (files shared by the workers, in multiprocess mode) by `flush`:
        # each worker's reload thread calls it every second, and /metrics before it reads.
        # Only the event loop's thread writes the tallies, and they only grow: `flush` copies
        # them and adds what grew since its last copy, so the request path takes no lock.
        self._tallies: dict[tuple[str, int], list[float]] = {}
        self._rows = 0
        self._flush_lock = threading.Lock()  # between the two callers of flush
        self._flushed: dict[tuple[str, int], list[float]] = {}
        self._flushed_rows = 0

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        # The bucket Histogram.observe would count it in: the first bound it does not exceed.
        bucket = bisect.bisect_left(BOUNDS, seconds)
        tally = self._tallies.get((endpoint, status))
        if tally is None:  # per bucket, then the count and the sum of seconds
            tally = self._tallies[endpoint, status] = [0.0] * (len(BOUNDS) + 2)
        tally[bucket] += 1
        tally[-2] += 1
        tally[-1] += seconds

    def predicted(self, rows: int) -> None:
        self._rows += rows

    def flush(self) -> None:
        """Write what was tallied since the last flush to the Prometheus values."""
        with self._flush_lock:
            rows = self._rows
            if rows > self._flushed_rows:
                self.rows.inc(rows - self._flushed_rows)
                self._flushed_rows = rows
            # Copies: one C call each, which the request path cannot interleave with.
            for key, tally in list(self._tallies.items()):
                now = tally.copy()
                before = self._flushed.get(key) or [0.0] * len(now)
                self._flushed[key] = now
                if now[-2] > before[-2]:
                    self.write(key, [new - old for new, old in zip(now, before, strict=True)])

    def write(self, key: tuple[str, int], tally: list[float]) -> None:
        latency, error = self.children(*key)
        # Histogram has no call for many observations at once: its bucket and sum values are
        # incremented as observe() increments them.
        for bucket, count in enumerate(tally[: len(BOUNDS)]):
            if count:
                latency._buckets[bucket].inc(count)
        latency._sum.inc(tally[-1])
        if error is not None:
            error.inc(tally[-2])

    def children(self, endpoint: str, status: int) -> tuple:
        children = self._children.get((endpoint, status))
        if children is None:  # labels() takes a lock and hashes; cache the children
            error = self.errors.labels(endpoint, str(status)) if status >= 400 else None
            children = (self.latency.labels(endpoint, str(status)), error)
            self._children[endpoint, status] = children
        return children

    def serving(self, name: str, version: str, previous: str | None) -> None:
        if previous and previous != version:
            self.model.labels(name, previous).set(0)
        self.model.labels(name, version).set(1)

    def render(self) -> tuple[bytes, str]:
        self.flush()  # this worker's figures up to now; the others' within a second
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def endpoint_of(path: str) -> str:
    """A fixed label per route: raw paths (any model name) would grow the series without end."""
    if path.startswith("/v2/models/"):
        return "v2_infer" if path.endswith("/infer") else "v2_model"
    if path.startswith("/v1/models"):
        return "v1_predict" if path.endswith(":predict") else "v1_model"
    if path.startswith("/v2/health") or path == "/v2":
        return "health"
    return {"/metrics": "metrics", "/": "page"}.get(path, "other")


class MetricsMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware, which costs a task per request): times every request
    and records its final status."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_record(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.metrics.observe(endpoint_of(scope["path"]), status, time.perf_counter() - started)
