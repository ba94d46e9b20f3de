"""A cache that fails open: when Redis is stopped or hung, callers get a miss, never an error.

After a failure the circuit stays open for a while (``open_seconds``), so a hung Redis costs one
socket timeout per process per interval instead of one per request. Used by the throttles and the
embedding vector cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT

logger = logging.getLogger("mlservice.cache")
_T = TypeVar("_T")


class GuardedCache:
    def __init__(self, alias: str = "default", open_seconds: float | Callable[[], float] = 5.0,
                 label: str = "Cache") -> None:  # fmt: skip
        self.alias = alias
        self.label = label
        self._open_seconds = open_seconds
        self._open_until = 0.0
        self._lock = threading.Lock()
        self.failures = 0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    def reset(self) -> None:
        self._open_until = 0.0

    def _call(self, default: _T, method: str, *args: Any, **kwargs: Any) -> _T:
        if not self.available:
            return default
        try:
            # Django's cache methods are typed by name; the default stands for their result type.
            result: _T = getattr(caches[self.alias], method)(*args, **kwargs)
            return result
        except Exception as exc:  # noqa: BLE001 - any backend error means "no cache"
            self._trip(method, exc)
            return default

    def _trip(self, method: str, exc: Exception) -> None:
        pause = self._open_seconds() if callable(self._open_seconds) else self._open_seconds
        with self._lock:
            was_closed = self.available
            self.failures += 1
            self._open_until = time.monotonic() + pause
        if was_closed:
            logger.warning("%s %s failed (%s: %s); carrying on without it for %ss", self.label, method,
                           type(exc).__name__, exc, pause)  # fmt: skip

    def get(self, key: str, default: Any = None) -> Any:
        return self._call(default, "get", key, default)

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT) -> None:
        self._call(None, "set", key, value, timeout)

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        return self._call({}, "get_many", keys)

    def set_many(self, mapping: dict[str, Any], timeout: Any = DEFAULT_TIMEOUT) -> None:
        self._call(None, "set_many", mapping, timeout)

    def delete(self, key: str) -> None:
        self._call(None, "delete", key)

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT) -> bool:
        return self._call(False, "add", key, value, timeout)

    def incr(self, key: str, delta: int = 1) -> int | None:
        """The new value; None when the key is missing or the cache failed."""
        if not self.available:
            return None
        try:
            return caches[self.alias].incr(key, delta)
        except ValueError:  # missing key: not a cache failure
            return None
        except Exception as exc:  # noqa: BLE001 - any backend error means "no cache"
            self._trip("incr", exc)
            return None


guarded_cache = GuardedCache()
