"""Prometheus metrics (``prometheus_client``, one registry per app) and structured access logs.

``ObservedApp`` is a plain ASGI middleware: it times every HTTP request, counts it by route and
status, and writes one JSON access-log line (method, route, status, duration; never headers, so
never a key).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

access_logger = logging.getLogger("embedspec.serve.access")

#: Routes reported by name; any other path is counted as "other" (bounded label values).
ROUTES = frozenset({
    "/v1/embeddings", "/v1/models", "/v1/search", "/v1/documents", "/v1/documents/count",
    "/health", "/ready", "/metrics",
})
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    """The server's metric families, on their own ``CollectorRegistry``."""

    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("embedspec_requests", "HTTP requests by route, method and status",
                                ("route", "method", "status"), registry=r)
        self.latency = Histogram("embedspec_request_duration_seconds", "HTTP request latency",
                                 ("route",), buckets=_LATENCY_BUCKETS, registry=r)
        self.batch_size = Histogram("embedspec_batch_size", "texts per encoder batch",
                                    buckets=_BATCH_BUCKETS, registry=r)
        self.batch_padded_tokens = Histogram("embedspec_batch_padded_tokens",
                                             "estimated padded tokens per encoder batch (rows x longest row)",
                                             buckets=tuple(2 ** i for i in range(6, 17)), registry=r)
        self.tokens = Counter("embedspec_tokens_encoded", "tokens encoded (the model tokenizer's count)", registry=r)
        self.texts = Counter("embedspec_texts_encoded", "texts encoded by the batcher", registry=r)
        self.queue = Gauge("embedspec_queue_depth", "texts waiting for the encoder", registry=r)
        self.queue.set_function(lambda: float(queue_depth()))
        self.documents = Counter("embedspec_documents_written", "documents added or deleted", ("operation",),
                                 registry=r)

    def observe_batch(self, items: int, padded_tokens: int, tokens: int) -> None:
        self.batch_size.observe(items)
        self.batch_padded_tokens.observe(padded_tokens)
        self.tokens.inc(tokens)
        self.texts.inc(items)

    def exposition(self) -> tuple[bytes, str]:
        """(the text format body, its content type)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ObservedApp:
    """ASGI middleware: request metrics and one JSON access-log line per HTTP request."""

    def __init__(self, app: Any, metrics: ServerMetrics, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = [500]

        async def send_observed(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            elapsed = time.perf_counter() - began
            path = scope.get("path", "")
            route = path if path in ROUTES else ("/v1/models" if path.startswith("/v1/models/") else "other")
            method = scope.get("method", "")
            self.metrics.requests.labels(route, method, str(status[0])).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            if self.access_log and access_logger.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_logger.info(json.dumps({
                    "event": "request", "method": method, "path": path, "route": route, "status": status[0],
                    "duration_ms": round(elapsed * 1000, 3), "client": client[0] if client else None,
                    "request_id": _request_id(scope),
                }))


def _request_id(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            return value.decode("latin-1")[:128]
    return None
