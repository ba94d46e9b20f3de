"""Vectors cached in Django's cache (Redis when REDIS_URL is set), never at the cost of a request.

Key: ``emb:v1:<provider namespace>:<model>:<dimensions>:<sha256(text)>``; value: the float32
bytes plus the text's token count (so usage stays right on hits). Lookups and stores are one
``get_many``/``set_many`` per request. Any cache error is logged and the request carries on
uncached; after a failure the cache is skipped for ``retry_after`` seconds so a stopped Redis
costs one socket timeout, not one per request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import numpy as np
from django.core.cache import caches

logger = logging.getLogger("mlservice.embeddings")


class VectorCache:
    def __init__(self) -> None:
        self._down_until = 0.0
        self._lock = threading.Lock()

    @staticmethod
    def key(namespace: str, model: str, dimensions: int | None, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return f"emb:v1:{namespace}:{model}:{dimensions or 0}:{digest}"

    def get_many(self, alias: str, keys: list[str]) -> dict[str, tuple[np.ndarray, int]]:
        if not keys or self._skipping():
            return {}
        try:
            raw = caches[alias].get_many(keys)
        except Exception as exc:  # noqa: BLE001 - any backend failure means "no cache"
            self._failed("read", exc)
            return {}
        found: dict[str, tuple[np.ndarray, int]] = {}
        for key, value in raw.items():
            decoded = _decode(value)
            if decoded is not None:
                found[key] = decoded
        return found

    def set_many(self, alias: str, items: dict[str, tuple[np.ndarray, int]], timeout: int | None) -> None:
        if not items or self._skipping():
            return
        payload = {
            key: (tokens, np.asarray(vector, dtype=np.float32).tobytes()) for key, (vector, tokens) in items.items()
        }
        try:
            if timeout:
                caches[alias].set_many(payload, timeout=timeout)
            else:
                caches[alias].set_many(payload)
        except Exception as exc:  # noqa: BLE001
            self._failed("write", exc)

    def reset(self) -> None:
        self._down_until = 0.0

    def _skipping(self) -> bool:
        return time.monotonic() < self._down_until

    def _failed(self, operation: str, exc: Exception) -> None:
        from django.conf import settings

        pause = settings.EMBEDDING_CACHE_RETRY_SECONDS
        with self._lock:
            self._down_until = time.monotonic() + pause
        logger.warning(
            "Embedding cache %s failed (%s: %s); embedding without cache for %ss",
            operation,
            type(exc).__name__,
            exc,
            pause,
        )


def _decode(value: object) -> tuple[np.ndarray, int] | None:
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes)):
        return None  # an entry written by another version: treat as a miss
    tokens, blob = value
    return np.frombuffer(blob, dtype=np.float32), int(tokens)
