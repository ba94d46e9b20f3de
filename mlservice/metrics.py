"""Prometheus metrics, shared across granian/gunicorn worker processes.

``PROMETHEUS_MULTIPROC_DIR`` must be set before ``prometheus_client`` is imported; settings set it
(default ``DATA_DIR/prometheus``) and ``make serve`` empties it at start. Services record model
work through the helpers below, so a provider needs no Prometheus knowledge.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

REQUESTS = Counter("mlservice_http_requests_total", "HTTP requests handled", ["method", "route", "status"])
REQUEST_LATENCY = Histogram(
    "mlservice_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
MODEL_LATENCY = Histogram(
    "mlservice_model_duration_seconds",
    "Model call latency (embedding, LLM, transcription...)",
    ["kind", "model"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TOKENS = Counter("mlservice_tokens_total", "LLM and embedding tokens", ["kind", "model", "direction"])
AUDIO_SECONDS = Counter("mlservice_audio_seconds_total", "Seconds of audio transcribed", ["model"])
CACHE_LOOKUPS = Counter("mlservice_cache_lookups_total", "Vector/response cache lookups", ["cache", "result"])
JOB_QUEUE_DEPTH = Gauge(
    "mlservice_job_queue_depth", "Background jobs waiting or running", ["queue"], multiprocess_mode="mostrecent"
)


# Label values must come from a bounded set: anyone can send any method or path, and each new
# label value is a new series in every worker's file and in every scrape (issue 12: 3,000 junk
# methods took /metrics from 220 to 57,258 lines). Unknown methods share "other"; unresolved
# paths share the route "unmatched" (the middleware passes the route pattern, never the path).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNMATCHED_ROUTE = "unmatched"

# Label children per key: ``labels()`` validates and locks on every call, a dict hit does not.
# The keys are bounded (methods x routes x statuses), so the caches are too.
_request_counters: dict[tuple[str, str, int], Any] = {}
_request_latencies: dict[tuple[str, str], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one HTTP request and its latency; ``route`` is a URL pattern or ``UNMATCHED_ROUTE``."""
    if method not in KNOWN_METHODS:
        method = OTHER_METHOD
    counter = _request_counters.get((method, route, status))
    if counter is None:
        counter = _request_counters[(method, route, status)] = REQUESTS.labels(method, route, str(status))
    counter.inc()
    latency = _request_latencies.get((method, route))
    if latency is None:
        latency = _request_latencies[(method, route)] = REQUEST_LATENCY.labels(method, route)
    latency.observe(seconds)


@contextmanager
def model_timer(kind: str, model: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        MODEL_LATENCY.labels(kind, model).observe(time.perf_counter() - started)


def record_tokens(kind: str, model: str, prompt: int = 0, completion: int = 0) -> None:
    if prompt:
        TOKENS.labels(kind, model, "prompt").inc(prompt)
    if completion:
        TOKENS.labels(kind, model, "completion").inc(completion)


def record_cache(cache: str, hits: int, misses: int) -> None:
    if hits:
        CACHE_LOOKUPS.labels(cache, "hit").inc(hits)
    if misses:
        CACHE_LOOKUPS.labels(cache, "miss").inc(misses)


def render() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)
