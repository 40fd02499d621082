"""Prometheus metrics at /metrics: requests and their latency, errors, predicted rows, the model
version and reloads. With several workers, each writes to PROMETHEUS_MULTIPROC_DIR (set by
`ml serve`) and /metrics adds up every worker's files, whichever worker answers the scrape."""

from __future__ import annotations

import os
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

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        key = (endpoint, status)
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and hashes; cache the children
            error = self.errors.labels(endpoint, str(status)) if status >= 400 else None
            children = self._children[key] = (self.latency.labels(endpoint, str(status)), error)
        latency, error = children
        latency.observe(seconds)
        if error is not None:
            error.inc()

    def serving(self, name: str, version: str, previous: str | None) -> None:
        if previous and previous != version:
            self.model.labels(name, previous).set(0)
        self.model.labels(name, version).set(1)

    def render(self) -> tuple[bytes, str]:
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
