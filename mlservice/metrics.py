"""Prometheus metrics, shared across granian/gunicorn worker processes.

``PROMETHEUS_MULTIPROC_DIR`` must be set before ``prometheus_client`` is imported; settings set it
(default ``DATA_DIR/prometheus``) and ``make serve`` empties it at start. Services record model
work through the helpers below, so a provider needs no Prometheus knowledge.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

REQUESTS = Counter("mlservice_http_requests_total", "HTTP requests handled", ["method", "route", "status"])
REQUEST_LATENCY = Histogram(
    "mlservice_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
# Model work. Every label value comes from a fixed set or from configuration (see ``bounded``):
# kind is "embedding", "llm" or "transcription"; provider is "local", "openai", "anthropic" or
# "compatible" (an OPENAI_BASE_URL server); model is a configured or known model name, else "other".
MODEL_LATENCY = Histogram(
    "mlservice_model_duration_seconds",
    "One model call: a local embedding batch, an LLM generation, a Whisper window or file, a provider call",
    ["kind", "provider", "model"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
TOKENS = Counter("mlservice_tokens_total", "LLM and embedding tokens", ["kind", "provider", "model", "direction"])
AUDIO_SECONDS = Counter("mlservice_audio_seconds_total", "Seconds of audio transcribed", ["provider", "model"])
CACHE_LOOKUPS = Counter("mlservice_cache_lookups_total", "Cache lookups by result", ["cache", "result"])
# Computed from the database just before each scrape (``set_job_queue_depth``), so every worker
# reports the same figure; "mostrecent" keeps the latest scrape's value across the workers' files.
JOB_QUEUE_DEPTH = Gauge(
    "mlservice_job_queue_depth",
    "Background jobs queued or running",
    ["queue", "state"],
    multiprocess_mode="mostrecent",
)
JOBS_FINISHED = Counter("mlservice_jobs_finished_total", "Background jobs finished", ["queue", "outcome"])
# Local model gates (services/model_gate.py; "local-embeddings" is also the batch queue's name).
# Requests in a gate are per worker; "livesum" adds up the live workers' values.
GATE_REQUESTS = Gauge(
    "mlservice_model_gate_requests",
    "Requests inside a local model's gate, running or waiting for a slot",
    ["gate", "state"],
    multiprocess_mode="livesum",
)
GATE_REFUSALS = Counter(
    "mlservice_model_gate_refusals_total", "Requests refused by a local model's gate (503)", ["gate", "reason"]
)
# The ASGI front (mlservice/serving.py): API requests admitted and not yet answered (probes are
# not counted), and those refused at once because the worker was full.
SERVER_IN_PROGRESS = Gauge(
    "mlservice_server_requests_in_progress", "API requests in progress in the ASGI front", multiprocess_mode="livesum"
)
SERVER_REFUSALS = Counter("mlservice_server_refusals_total", "API requests refused with 503 by a full worker")

OTHER = "other"
KINDS = frozenset({"embedding", "llm", "transcription"})
PROVIDERS = frozenset({"local", "openai", "anthropic", "compatible"})
CACHES = frozenset({"embedding"})
JOB_STATES = ("queued", "running")
JOB_OUTCOMES = frozenset({"completed", "failed"})
REFUSAL_REASONS = frozenset({"queue_full", "timeout"})


def bounded(value: str, allowed: Iterable[str]) -> str:
    """``value`` when it is one of ``allowed`` (configured or fixed names), else ``"other"``.

    A request may name any model; only names the configuration knows become label values, so a
    client cannot create series (issue 12)."""
    return value if value in allowed else OTHER


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


def _check(kind: str, provider: str) -> None:
    # Callers pass constants; a typo must fail in tests, not add a series in production.
    if kind not in KINDS or provider not in PROVIDERS:
        raise ValueError(f"unknown metric labels kind={kind!r} provider={provider!r}")


def observe_model(kind: str, provider: str, model: str, seconds: float) -> None:
    _check(kind, provider)
    MODEL_LATENCY.labels(kind, provider, model).observe(seconds)


@contextmanager
def model_timer(kind: str, provider: str, model: str) -> Iterator[None]:
    """Time one model call (failed calls too: a slow timeout is latency the caller saw)."""
    _check(kind, provider)
    started = time.perf_counter()
    try:
        yield
    finally:
        MODEL_LATENCY.labels(kind, provider, model).observe(time.perf_counter() - started)


def record_tokens(kind: str, provider: str, model: str, prompt: int = 0, completion: int = 0) -> None:
    _check(kind, provider)
    if prompt > 0:
        TOKENS.labels(kind, provider, model, "prompt").inc(prompt)
    if completion > 0:
        TOKENS.labels(kind, provider, model, "completion").inc(completion)


def record_audio(provider: str, model: str, seconds: float) -> None:
    _check("transcription", provider)
    if seconds > 0:
        AUDIO_SECONDS.labels(provider, model).inc(seconds)


def record_cache(cache: str, hits: int, misses: int) -> None:
    if cache not in CACHES:
        raise ValueError(f"unknown cache {cache!r}")
    if hits:
        CACHE_LOOKUPS.labels(cache, "hit").inc(hits)
    if misses:
        CACHE_LOOKUPS.labels(cache, "miss").inc(misses)


def set_job_queue_depth(queue: str, counts: dict[str, int]) -> None:
    for state in JOB_STATES:
        JOB_QUEUE_DEPTH.labels(queue, state).set(counts.get(state, 0))


def record_job_finished(queue: str, outcome: str) -> None:
    JOBS_FINISHED.labels(queue, bounded(outcome, JOB_OUTCOMES)).inc()


def gate_entered(gate: str) -> None:
    GATE_REQUESTS.labels(gate, "waiting").inc()


def gate_started(gate: str) -> None:
    GATE_REQUESTS.labels(gate, "waiting").dec()
    GATE_REQUESTS.labels(gate, "running").inc()


def gate_left(gate: str, started: bool) -> None:
    GATE_REQUESTS.labels(gate, "running" if started else "waiting").dec()


def record_refusal(gate: str, reason: str) -> None:
    GATE_REFUSALS.labels(gate, bounded(reason, REFUSAL_REASONS)).inc()


def _forget_dead_workers(folder: str) -> None:
    """Drop the "live" gauge files of worker processes that have gone (granian respawns a killed
    worker under a new pid): otherwise a killed worker's requests in a gate would count forever."""
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def render() -> bytes:
    if folder := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _forget_dead_workers(folder)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY)
