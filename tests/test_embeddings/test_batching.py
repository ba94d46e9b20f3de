"""Dynamic cross-request batching of the local embedding model (services/embeddings/batching.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from django.test import override_settings

from services import embedding_service
from services.embeddings.base import Encoded
from services.embeddings.batching import DynamicBatcher
from services.model_gate import Overloaded


def _fake_encode(calls: list[list[str]], delay: float = 0.0):
    def encode(texts: list[str]) -> Encoded:
        calls.append(list(texts))
        time.sleep(delay)
        vectors = np.array([[len(text), ord(text[0])] for text in texts], dtype=np.float32)
        return Encoded(vectors=vectors, token_counts=[len(text) for text in texts])

    return encode


def test_concurrent_requests_share_one_model_call_and_get_their_own_rows() -> None:
    calls: list[list[str]] = []
    batcher = DynamicBatcher(
        _fake_encode(calls), name="fake", window_seconds=0.05, max_texts=64, max_queue=32, queue_timeout=5
    )
    requests = [[f"{chr(97 + i)}" * (i + 1)] for i in range(8)] + [["xyz", "q"]]
    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(batcher.encode, requests))
    for texts, result in zip(requests, results, strict=True):
        assert result.vectors.tolist() == [[len(t), ord(t[0])] for t in texts]
        assert result.token_counts == [len(t) for t in texts]
    assert len(calls) < len(requests)
    assert sorted(t for call in calls for t in call) == sorted(t for texts in requests for t in texts)
    assert batcher.stats().batched_requests == len(requests)


def test_a_call_never_exceeds_max_texts_and_a_big_request_is_run_in_slices() -> None:
    calls: list[list[str]] = []
    batcher = DynamicBatcher(
        _fake_encode(calls), name="fake", window_seconds=0.02, max_texts=4, max_queue=32, queue_timeout=5
    )
    requests = [["a"], ["b", "c"], ["d", "e", "f", "g", "h"], ["i"]]
    with ThreadPoolExecutor(len(requests)) as pool:
        results = list(pool.map(batcher.encode, requests))
    assert [r.vectors[:, 1].astype(int).tolist() for r in results] == [[ord(c) for c in t] for t in requests]
    assert [r.token_counts for r in results] == [[1] * len(t) for t in requests]
    assert all(len(call) <= 4 for call in calls)
    assert sorted(t for call in calls for t in call) == list("abcdefghi")


def test_a_short_request_is_not_stuck_behind_a_large_one() -> None:
    calls: list[list[str]] = []
    batcher = DynamicBatcher(
        _fake_encode(calls, delay=0.05), name="fake", window_seconds=0, max_texts=4, max_queue=32, queue_timeout=5
    )
    finished: dict[str, float] = {}

    def timed(name: str, texts: list[str]) -> None:
        batcher.encode(texts)
        finished[name] = time.perf_counter()

    with ThreadPoolExecutor(2) as pool:
        big = pool.submit(timed, "big", [f"t{i}" for i in range(40)])
        time.sleep(0.08)
        small = pool.submit(timed, "small", ["s"])
        big.result(10)
        small.result(10)
    assert finished["small"] < finished["big"]
    assert max(len(call) for call in calls) <= 4


def test_full_queue_is_refused_at_once() -> None:
    release = threading.Event()

    def blocking_encode(texts: list[str]) -> Encoded:
        release.wait(5)
        return Encoded(vectors=np.ones((len(texts), 2), dtype=np.float32), token_counts=[1] * len(texts))

    batcher = DynamicBatcher(blocking_encode, name="fake", window_seconds=0, max_texts=1, max_queue=2, queue_timeout=5)
    with ThreadPoolExecutor(3) as pool:
        running = pool.submit(batcher.encode, ["one"])
        deadline = time.monotonic() + 2
        while batcher.stats().model_calls < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        queued = [pool.submit(batcher.encode, [f"q{i}"]) for i in range(2)]
        while batcher.stats().queued_requests < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.perf_counter()
        with pytest.raises(Overloaded) as refused:
            batcher.encode(["too many"])
        assert time.perf_counter() - started < 0.1
        assert refused.value.status_code == 503 and refused.value.headers["Retry-After"] == "5"
        release.set()
        assert running.result(5).vectors.shape == (1, 2)
        assert all(f.result(5).vectors.shape == (1, 2) for f in queued)


def test_a_request_still_queued_after_the_timeout_is_refused() -> None:
    release = threading.Event()

    def blocking_encode(texts: list[str]) -> Encoded:
        release.wait(5)
        return Encoded(vectors=np.ones((len(texts), 2), dtype=np.float32), token_counts=[1] * len(texts))

    batcher = DynamicBatcher(
        blocking_encode, name="fake", window_seconds=0, max_texts=1, max_queue=8, queue_timeout=0.1
    )
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(batcher.encode, ["first"])
        time.sleep(0.02)
        with pytest.raises(Overloaded, match="not started within"):
            batcher.encode(["second"])
        assert batcher.stats().queued_requests == 0
        release.set()
        assert running.result(5).vectors.shape == (1, 2)


def test_a_model_error_reaches_every_request_of_the_batch_and_the_thread_survives() -> None:
    fail = {"on": True}

    def flaky(texts: list[str]) -> Encoded:
        if fail["on"]:
            raise RuntimeError("model exploded")
        return Encoded(vectors=np.zeros((len(texts), 2), dtype=np.float32), token_counts=[0] * len(texts))

    batcher = DynamicBatcher(flaky, name="fake", window_seconds=0.02, max_texts=8, max_queue=8, queue_timeout=5)
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(batcher.encode, [f"t{i}"]) for i in range(3)]
        for future in futures:
            with pytest.raises(RuntimeError, match="model exploded"):
                future.result(5)
    fail["on"] = False
    assert batcher.encode(["after"]).vectors.shape == (1, 2)


@pytest.mark.parametrize("backend", ["onnx-int8", "onnx"])
def test_batched_vectors_equal_unbatched_ones_with_the_real_model(backend: str) -> None:
    texts = [f"request number {i} about {'apples' if i % 2 else 'the weather today'}" for i in range(12)]
    with override_settings(EMBEDDING_LOCAL_BACKEND=backend, EMBEDDING_CACHE_ENABLED=False):
        service = embedding_service.get_instance()
        with override_settings(EMBEDDING_BATCH_WINDOW_MS=0):
            alone = np.stack([service.embed([text]).vectors[0] for text in texts])
        with override_settings(EMBEDDING_BATCH_WINDOW_MS=30):
            batcher = service._local().batcher()
            assert batcher is not None
            with ThreadPoolExecutor(len(texts)) as pool:
                together = np.stack(list(pool.map(lambda t: service.embed([t]).vectors[0], texts)))
            stats = batcher.stats()
    assert stats.model_calls < len(texts)
    np.testing.assert_allclose(together, alone, atol=2e-6)


def test_admission_counts_queued_texts_and_an_empty_queue_admits_anything() -> None:
    release = threading.Event()

    def blocking_encode(texts: list[str]) -> Encoded:
        release.wait(5)
        return Encoded(vectors=np.ones((len(texts), 2), dtype=np.float32), token_counts=[1] * len(texts))

    batcher = DynamicBatcher(
        blocking_encode, name="fake", window_seconds=0, max_texts=4, max_queue=50, queue_timeout=5, max_queued_texts=10
    )
    with ThreadPoolExecutor(4) as pool:
        big = pool.submit(batcher.encode, [f"b{i}" for i in range(30)])  # larger than the limit: admitted alone
        deadline = time.monotonic() + 2
        while batcher.stats().model_calls < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        with pytest.raises(Overloaded, match="queue is full"):
            batcher.encode(["one more"])  # 26 texts still wait: over the limit of 10
        release.set()
        assert big.result(5).vectors.shape == (30, 2)
    assert batcher.encode(["after"]).vectors.shape == (1, 2)
