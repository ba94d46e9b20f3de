"""A cache that fails open: when Redis is stopped or hung, callers get a miss, never an error.

After a failure the circuit stays open for a few seconds, so a hung Redis costs one socket
timeout per process per interval instead of one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache import cache

logger = logging.getLogger("mlservice.cache")

_MISSING = object()


class GuardedCache:
    def __init__(self, open_seconds: float = 5.0) -> None:
        self.open_seconds = open_seconds
        self._open_until = 0.0
        self._lock = threading.Lock()
        self.failures = 0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    def _call(self, default: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        if not self.available:
            return default
        try:
            return getattr(cache, method)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - any backend error means "no cache"
            self._trip(exc)
            return default

    def _trip(self, exc: Exception) -> None:
        with self._lock:
            was_closed = self.available
            self.failures += 1
            self._open_until = time.monotonic() + self.open_seconds
        if was_closed:
            logger.warning(
                "Cache unavailable (%s: %s); serving without it for %.0fs", type(exc).__name__, exc, self.open_seconds
            )

    def get(self, key: str, default: Any = None) -> Any:
        return self._call(default, "get", key, default)

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        self._call(None, "set", key, value, timeout)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return self._call({}, "get_many", keys)

    def set_many(self, mapping: dict[str, Any], timeout: float | None = None) -> None:
        self._call(None, "set_many", mapping, timeout)

    def delete(self, key: str) -> None:
        self._call(None, "delete", key)


guarded_cache = GuardedCache()
