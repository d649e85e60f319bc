"""Prometheus metrics of one server (``GET /metrics``), on a registry of its own.

A registry per app, not prometheus-client's global one, so two servers in one process (tests, a notebook)
never mix their counts or collide on metric names.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ServerMetrics:
    """Requests by route and status, latency, batch sizes, queue depth and requests in flight.

    Args:
        queue_depth: Returns how many requests wait for the model (read at each scrape).
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth: Callable[[], int]):
        self.registry = CollectorRegistry()
        self.requests = Counter("swiftcls_requests", "HTTP requests answered, by route, method and status.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("swiftcls_request_duration_seconds", "Time from request to the end of the answer.",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_rows = Histogram("swiftcls_batch_rows", "Rows per forward pass of the micro-batcher.",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.queue_depth = Gauge("swiftcls_queue_depth", "Requests waiting for the model.", registry=self.registry)
        self.queue_depth.set_function(queue_depth)
        self.in_flight = Gauge("swiftcls_requests_in_flight", "Requests being handled now.",
                               registry=self.registry)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware that counts and times every HTTP request, refusals included.

    Routes are labelled by their path template; paths that match no route share the label ``unmatched``, so
    scanners cannot grow the label set without bound.

    Args:
        app: The wrapped ASGI app.
        metrics: Where to record.
        routes: Paths of the app's routes, for requests answered before routing (413, 503 from limits).
    """

    def __init__(self, app, metrics: ServerMetrics, routes: frozenset[str]):
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status, start = 500, time.perf_counter()  # 500 unless a response starts: the app raised

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.in_flight.dec()
            route = getattr(scope.get("route"), "path", None)
            route = route or (scope["path"] if scope["path"] in self.routes else "unmatched")
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
