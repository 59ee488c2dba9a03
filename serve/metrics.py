"""Prometheus metrics of one ``fmnist-serve`` process, in a registry of its own.

A private CollectorRegistry, not prometheus_client's global one: a library must not add to its
host's registry, and two apps in one process (the tests) must not count into each other.
"""

from __future__ import annotations

# Request latencies: a 28×28 PNG answers in well under a millisecond, a phone photo in tens of
# milliseconds (decoding), so the buckets run from 100 µs to 5 s.
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
           1.0, 2.5, 5.0)
ROUTES = ("/", "/healthz", "/metrics", "/v1/classify")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Requests and errors by route and status, latency, images classified, stage times, model."""

    def __init__(self, model: dict, multiprocess_dir: str | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        registry = self.registry
        if multiprocess_dir:  # the samples live in files every worker writes; render adds them up
            from prometheus_client.multiprocess import MultiProcessCollector

            MultiProcessCollector(self.registry, path=multiprocess_dir)
            registry = None
        self.requests = Counter("fmnist_serve_requests", "HTTP requests answered, by route, "
                                "method and status", ["route", "method", "status"], registry=registry)
        self.errors = Counter("fmnist_serve_errors", "4xx/5xx answers, by route and status",
                              ["route", "status"], registry=registry)
        self.latency = Histogram("fmnist_serve_request_duration_seconds", "time from the request's "
                                 "start to its answer's last byte, by route", ["route"],
                                 buckets=BUCKETS, registry=registry)
        self.images = Counter("fmnist_serve_images_classified", "images classified",
                              registry=registry)
        self.stages = Histogram("fmnist_serve_stage_seconds", "server time of /v1/classify's "
                                "stages: decode (image → 28×28) and inference", ["stage"],
                                buckets=BUCKETS, registry=registry)
        info = Gauge("fmnist_serve_model_info", "the loaded model (always 1)",
                     ["name", "format", "quantization", "sha256", "backend"], registry=registry,
                     multiprocess_mode="max")
        info.labels(*(str(model.get(k)) for k in ("name", "format", "quantization", "sha256",
                                                    "backend"))).set(1)

    def observe(self, path: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        route = path if path in ROUTES else "other"  # unknown paths: one label, not one per URL
        self.requests.labels(route, method, str(status)).inc()
        if status >= 400:
            self.errors.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def classified(self, count: int, time_ms: dict) -> None:
        """Count ``count`` images and the stage times of their request."""
        self.images.inc(count)
        for stage, ms in time_ms.items():
            self.stages.labels(stage).observe(ms / 1000)

    def render(self) -> bytes:
        """The text exposition format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
