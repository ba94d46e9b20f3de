"""The per-model admission gate: bounded runs, bounded queue, fast refusal with Retry-After."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import override_settings

from services.model_gate import ModelGate, Overloaded, gate_for, patient


def _hold(gate: ModelGate, started: threading.Event, release: threading.Event) -> None:
    with gate.slot():
        started.set()
        release.wait(5)


def test_full_queue_is_refused_at_once_with_retry_after() -> None:
    gate = ModelGate("test-model", concurrency=1, queue=1, queue_timeout=5, retry_after=7)
    release = threading.Event()
    running = threading.Event()
    holder = threading.Thread(target=_hold, args=(gate, running, release))
    holder.start()
    assert running.wait(2)
    waiter = threading.Thread(target=_hold, args=(gate, threading.Event(), release))
    waiter.start()
    deadline = time.monotonic() + 2
    while gate.stats().waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert gate.stats().running == 1 and gate.stats().waiting == 1

    started = time.perf_counter()
    with pytest.raises(Overloaded) as refused, gate.slot():
        pass
    assert time.perf_counter() - started < 0.1
    assert refused.value.status_code == 503
    assert refused.value.headers["Retry-After"] == "7"
    assert "test-model" in refused.value.message and "queue is full" in refused.value.message

    release.set()
    holder.join(5)
    waiter.join(5)
    stats = gate.stats()
    assert (stats.running, stats.waiting, stats.refused) == (0, 0, 1)


def test_waiting_longer_than_the_queue_timeout_is_refused() -> None:
    gate = ModelGate("slow-model", concurrency=1, queue=4, queue_timeout=0.05, retry_after=1)
    release = threading.Event()
    running = threading.Event()
    holder = threading.Thread(target=_hold, args=(gate, running, release))
    holder.start()
    assert running.wait(2)
    started = time.perf_counter()
    with pytest.raises(Overloaded, match=r"no slot within 0\.05 s"), gate.slot():
        pass
    assert 0.04 < time.perf_counter() - started < 0.5
    release.set()
    holder.join(5)
    assert gate.stats().running == 0 and gate.stats().waiting == 0


def test_concurrency_is_never_exceeded() -> None:
    gate = ModelGate("counted", concurrency=2, queue=50, queue_timeout=5, retry_after=1)
    lock = threading.Lock()
    active, peak = 0, 0

    def work() -> None:
        nonlocal active, peak
        with gate.slot():
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(0.005)
            with lock:
                active -= 1

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert peak == 2


def test_limits_come_from_settings_and_follow_overrides() -> None:
    with override_settings(
        MODEL_GATES={"local-embeddings": {"concurrency": 3, "queue": 9}}, MODEL_QUEUE_TIMEOUT_SECONDS=4.0
    ):
        gate = gate_for("local-embeddings")
        assert (gate.concurrency, gate.queue, gate.queue_timeout, gate.retry_after) == (3, 9, 4.0, 4)
        assert gate_for("local-embeddings") is gate
    assert gate_for("local-embeddings") is not gate


def test_patient_work_waits_for_a_slot_instead_of_being_refused() -> None:
    gate = ModelGate("jobs-model", concurrency=1, queue=0, queue_timeout=0.01, retry_after=1)
    release = threading.Event()
    running = threading.Event()
    holder = threading.Thread(target=_hold, args=(gate, running, release))
    holder.start()
    assert running.wait(2)
    with pytest.raises(Overloaded), gate.slot():
        pass
    finished = threading.Event()

    def background_job() -> None:
        with patient(), gate.slot():
            finished.set()

    job = threading.Thread(target=background_job)
    job.start()
    time.sleep(0.1)
    assert not finished.is_set() and gate.stats().waiting == 1
    release.set()
    job.join(5)
    holder.join(5)
    assert finished.is_set()
