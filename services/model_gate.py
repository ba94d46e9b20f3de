"""Bounded admission for local model work (embeddings, Whisper, the local LLM).

CPU-bound inference must not pile up behind itself: each local model gets a gate with a fixed
number of concurrent runs and a bounded wait queue, as TEI's ``--max-concurrent-requests`` and
Ollama's ``OLLAMA_MAX_QUEUE`` do. A request that finds the queue full, or that has waited longer
than the queue timeout, is refused at once with 503 and ``Retry-After`` instead of waiting without
bound, so a client (or the gateway) can back off or try another instance.

    with gate_for("local-embeddings").slot():
        run_the_model()

Limits come from ``settings.MODEL_GATES`` (``{name: {"concurrency": n, "queue": m}}``) and
``settings.MODEL_QUEUE_TIMEOUT_SECONDS``; gates are per process (each server worker has its own).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings

from mlservice import metrics
from mlservice.core.errors import ServiceUnavailable
from mlservice.core.resets import register_reset

DEFAULT_LIMITS = {"concurrency": 1, "queue": 8}


class Overloaded(ServiceUnavailable):
    """The model's queue is full: 503 with ``Retry-After``."""

    code = "model_overloaded"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class GateStats:
    running: int
    waiting: int
    concurrency: int
    queue: int
    refused: int


class ModelGate:
    def __init__(self, name: str, concurrency: int, queue: int, queue_timeout: float, retry_after: int) -> None:
        self.name = name
        self.concurrency = max(1, concurrency)
        self.queue = max(0, queue)
        self.queue_timeout = queue_timeout
        self.retry_after = max(1, retry_after)
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._refused = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the model's run slots; raise ``Overloaded`` rather than queue without bound.

        Inside ``patient()`` (background jobs, bounded by their own runner) it waits for a slot
        as long as it takes and is never refused.
        """
        waits = _patient.get()
        self._admit(always=waits)
        metrics.gate_entered(self.name)
        started = False
        try:
            if not self._slots.acquire(timeout=None if waits else self.queue_timeout):
                self._refuse()
            with self._lock:
                self._running += 1
            started = True
            metrics.gate_started(self.name)
            try:
                yield
            finally:
                with self._lock:
                    self._running -= 1
                self._slots.release()
        finally:
            with self._lock:
                self._admitted -= 1
            metrics.gate_left(self.name, started)

    def stats(self) -> GateStats:
        with self._lock:
            return GateStats(self._running, self._admitted - self._running, self.concurrency, self.queue, self._refused)

    def _admit(self, always: bool = False) -> None:
        with self._lock:
            if not always and self._admitted >= self.concurrency + self.queue:
                self._refused += 1
                full = True
            else:
                self._admitted += 1
                full = False
        if full:
            metrics.record_refusal(self.name, "queue_full")
            raise Overloaded(self._message("queue is full"), self.retry_after)

    def _refuse(self) -> None:
        with self._lock:
            self._refused += 1
        metrics.record_refusal(self.name, "timeout")
        raise Overloaded(self._message(f"no slot within {self.queue_timeout:g} s"), self.retry_after)

    def _message(self, reason: str) -> str:
        return (
            f"The {self.name} model is busy ({reason}: {self.concurrency} running, {self.queue} queued at most); "
            f"retry after {self.retry_after} s"
        )


_patient: ContextVar[bool] = ContextVar("model_gate_patient", default=False)


@contextmanager
def patient() -> Iterator[None]:
    """Work inside waits for model slots instead of being refused (background jobs)."""
    token = _patient.set(True)
    try:
        yield
    finally:
        _patient.reset(token)


_gates: dict[str, ModelGate] = {}
_gates_lock = threading.Lock()


def gate_for(name: str) -> ModelGate:
    """The process-wide gate of ``name``, built from settings on first use."""
    gate = _gates.get(name)
    if gate is None:
        with _gates_lock:
            gate = _gates.get(name)
            if gate is None:
                gate = _gates[name] = _build(name)
    return gate


def all_gates() -> dict[str, ModelGate]:
    return dict(_gates)


def retry_after_for(queue_timeout: float) -> int:
    """Retry-After (whole seconds) for a refusal: about the time a queued request may wait."""
    return max(1, round(queue_timeout))


def _build(name: str) -> ModelGate:
    limits = {**DEFAULT_LIMITS, **settings.MODEL_GATES.get(name, {})}
    timeout = float(settings.MODEL_QUEUE_TIMEOUT_SECONDS)
    return ModelGate(
        name,
        int(limits["concurrency"]),
        int(limits["queue"]),
        queue_timeout=timeout,
        retry_after=retry_after_for(timeout),
    )


def _reset_gates() -> None:
    with _gates_lock:
        _gates.clear()


register_reset(_reset_gates, settings=("MODEL_GATES", "MODEL_QUEUE_TIMEOUT_SECONDS"))
