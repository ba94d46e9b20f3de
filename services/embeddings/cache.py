"""Vectors cached in Django's cache (Redis when REDIS_URL is set), never at the cost of a request.

Key: ``emb:v1:<provider namespace>:<model>:<dimensions>:<sha256(text)>``; value: the float32
bytes plus the text's token count (so usage stays right on hits). Lookups and stores are one
``get_many``/``set_many`` per request. Failures are handled by ``GuardedCache``: logged, the
request carries on uncached, and the cache is skipped for ``EMBEDDING_CACHE_RETRY_SECONDS`` so a
stopped Redis costs one socket timeout, not one per request.
"""

from __future__ import annotations

import hashlib

import numpy as np
from django.core.cache.backends.base import DEFAULT_TIMEOUT

from mlservice import metrics
from mlservice.core.cache import GuardedCache

from .config import embedding_config


class VectorCache:
    def __init__(self) -> None:
        self._guards: dict[str, GuardedCache] = {}

    def _guard(self, alias: str) -> GuardedCache:
        if alias not in self._guards:
            self._guards[alias] = GuardedCache(alias, open_seconds=_retry_seconds, label="Embedding cache")
        return self._guards[alias]

    @staticmethod
    def key(namespace: str, model: str, dimensions: int | None, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return f"emb:v1:{namespace}:{model}:{dimensions or 0}:{digest}"

    def get_many(self, alias: str, keys: list[str]) -> dict[str, tuple[np.ndarray, int]]:
        if not keys:
            return {}
        found: dict[str, tuple[np.ndarray, int]] = {}
        for key, value in self._guard(alias).get_many(keys).items():
            decoded = _decode(value)
            if decoded is not None:
                found[key] = decoded
        # A cache that is down counts as misses: that is what the request got.
        metrics.record_cache("embedding", hits=len(found), misses=len(keys) - len(found))
        return found

    def set_many(self, alias: str, items: dict[str, tuple[np.ndarray, int]], timeout: int | None) -> None:
        if not items:
            return
        payload = {
            key: (tokens, np.asarray(vector, dtype=np.float32).tobytes()) for key, (vector, tokens) in items.items()
        }
        self._guard(alias).set_many(payload, timeout or DEFAULT_TIMEOUT)

    def reset(self) -> None:
        for guard in self._guards.values():
            guard.reset()


def _retry_seconds() -> float:
    return embedding_config().cache_retry_seconds


def _decode(value: object) -> tuple[np.ndarray, int] | None:
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], bytes)):
        return None  # an entry written by another version: treat as a miss
    tokens, blob = value
    return np.frombuffer(blob, dtype=np.float32), int(tokens)
