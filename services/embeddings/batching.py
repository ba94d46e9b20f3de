"""Dynamic cross-request batching for a local embedding model (as Infinity and TEI do).

Server threads do not run the model themselves: they queue their texts here and wait. One model
thread per process takes whatever is queued (after a short window that lets concurrent requests
arrive, ``EMBEDDING_BATCH_WINDOW_MS``), runs one model call over all of it, and hands each request
its own rows. Sixteen clients sending one short text each then cost one model call, not sixteen.

Results are the same as unbatched calls: each request's rows come from the same encoder, which
pads only within length-sorted sub-batches (float backends) or runs one text per call (int8, whose
dynamic activation scales would otherwise depend on the neighbours); see ``local.py``.

The queue is bounded (``EMBEDDING_MAX_QUEUE`` requests): a request that finds it full, or that is
still queued after ``MODEL_QUEUE_TIMEOUT_SECONDS``, is refused with 503 + ``Retry-After``
(``services.model_gate.Overloaded``) instead of waiting without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mlservice import metrics
from services.model_gate import Overloaded, retry_after_for

from .base import Encoded

logger = logging.getLogger("mlservice.embeddings")
# The batch queue stands in for the "local-embeddings" model gate, so refusals count under its name.
GATE = "local-embeddings"


@dataclass(eq=False)
class _Pending:
    texts: list[str]
    arrived: float = field(default_factory=time.monotonic)
    done: threading.Event = field(default_factory=threading.Event)
    result: Encoded | None = None
    error: BaseException | None = None
    #: Texts handed to the model so far; a large request is run in slices (see ``_next_batch``).
    taken: int = 0
    parts: list[Encoded] = field(default_factory=list)
    remaining_parts: int = 0

    @property
    def started(self) -> bool:
        return self.taken > 0


@dataclass(frozen=True)
class BatcherStats:
    queued_requests: int
    model_calls: int
    batched_requests: int
    refused: int


class DynamicBatcher:
    def __init__(
        self,
        encode: Callable[[list[str]], Encoded],
        *,
        name: str,
        window_seconds: float,
        max_texts: int,
        max_queue: int,
        queue_timeout: float,
        max_queued_texts: int | None = None,
    ) -> None:
        self._encode = encode
        self.name = name
        self.window_seconds = window_seconds
        self.max_texts = max(1, max_texts)
        self.max_queue = max(1, max_queue)
        # Work waiting, in texts: a queue of 32 requests of 100 long texts each is minutes of work,
        # so admission also counts texts and refuses at once rather than after the queue timeout.
        self.max_queued_texts = max_queued_texts
        self.queue_timeout = queue_timeout
        self.retry_after = retry_after_for(queue_timeout)
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._model_calls = 0
        self._batched_requests = 0
        self._refused = 0

    # --- callers (server threads) ----------------------------------------------------------
    def encode(self, texts: list[str]) -> Encoded:
        pending = _Pending(list(texts))
        with self._cond:
            if len(self._queue) >= self.max_queue or self._texts_over_limit(len(pending.texts)):
                self._refused += 1
                metrics.record_refusal(GATE, "queue_full")
                raise self._overloaded("queue is full")
            self._queue.append(pending)
            self._ensure_thread()
            self._cond.notify_all()
        if not pending.done.wait(self.queue_timeout):
            with self._cond:
                still_queued = not pending.started
                if still_queued:
                    self._queue.remove(pending)
                    self._refused += 1
            if still_queued:
                metrics.record_refusal(GATE, "timeout")
                raise self._overloaded(f"not started within {self.queue_timeout:g} s")
            pending.done.wait()  # already running: its rows come shortly
        if pending.error is not None:
            raise pending.error
        assert pending.result is not None
        return pending.result

    def stats(self) -> BatcherStats:
        with self._cond:
            return BatcherStats(len(self._queue), self._model_calls, self._batched_requests, self._refused)

    # --- the model thread ------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._serve, name=f"batcher-{self.name}", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            self._run(batch)

    def _next_batch(self) -> list[tuple[_Pending, int, int]]:
        """Up to ``max_texts`` texts from the queue as (request, start, end) slices.

        A request larger than one call is run slice by slice, going to the back of the queue
        between slices, so short requests are not stuck behind a 100-text batch.
        """
        with self._cond:
            while not self._queue:
                self._cond.wait()
            # Let concurrent requests join, unless there is already a full call's worth of texts.
            deadline = self._queue[0].arrived + self.window_seconds
            while self._queued_texts() < self.max_texts:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._queue:
                    break
                self._cond.wait(remaining)
            batch: list[tuple[_Pending, int, int]] = []
            budget = self.max_texts
            for item in list(self._queue):
                if budget <= 0:
                    break
                start = item.taken
                end = min(len(item.texts), start + budget)
                batch.append((item, start, end))
                item.taken = end
                item.remaining_parts += 1
                budget -= end - start
                self._queue.remove(item)
                if end < len(item.texts):
                    self._queue.append(item)  # the rest of a large request waits its turn
            self._model_calls += 1
            self._batched_requests += len(batch)
            return batch

    def _texts_over_limit(self, incoming: int) -> bool:
        # An empty queue always admits, so one request larger than the limit can still run.
        return (
            self.max_queued_texts is not None
            and bool(self._queue)
            and (self._queued_texts() + incoming > self.max_queued_texts)
        )

    def _queued_texts(self) -> int:
        return sum(len(item.texts) - item.taken for item in self._queue)

    def _run(self, batch: list[tuple[_Pending, int, int]]) -> None:
        texts = [text for item, start, end in batch for text in item.texts[start:end]]
        try:
            encoded = self._encode(texts) if texts else None
        except BaseException as exc:  # every waiting request must hear about it
            for item, _, _ in batch:
                self._fail(item, exc)
            if not isinstance(exc, Exception):
                raise
            return
        offset = 0
        for item, start, end in batch:
            size = end - start
            if encoded is not None and size:
                item.parts.append(
                    Encoded(
                        vectors=encoded.vectors[offset : offset + size],
                        token_counts=encoded.token_counts[offset : offset + size],
                    )
                )
            offset += size
            self._finish_part(item)

    def _finish_part(self, item: _Pending) -> None:
        with self._cond:
            item.remaining_parts -= 1
            complete = item.taken == len(item.texts) and item.remaining_parts == 0 and item.error is None
        if complete:
            vectors = [part.vectors for part in item.parts]
            item.result = Encoded(
                vectors=np.ascontiguousarray(np.concatenate(vectors)) if vectors else np.zeros((0, 0), np.float32),
                token_counts=[count for part in item.parts for count in part.token_counts],
            )
            item.done.set()

    def _fail(self, item: _Pending, exc: BaseException) -> None:
        with self._cond:
            item.error = exc
            if item in self._queue:
                self._queue.remove(item)
        item.done.set()

    def _overloaded(self, reason: str) -> Overloaded:
        return Overloaded(
            f"The {self.name} model is busy ({reason}: at most {self.max_queue} requests queued); "
            f"retry after {self.retry_after} s",
            self.retry_after,
        )
