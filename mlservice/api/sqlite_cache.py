"""A Django cache backend in one SQLite file, shared by every worker process of one machine.

Without Redis the throttles (and the admin login counters) need a store the granian workers share;
a per-process local-memory cache lets N workers admit N times the limit. Django's file-based cache
costs ~4.5 ms per throttle check here (a temporary file per write, a directory listing per set,
30 ms with 5,000 entries) and its culling drops random counters; this backend costs tens of
microseconds (one indexed row per key, WAL, no fsync: the data is disposable) and counts
atomically (``incr`` and ``add`` are single statements).

Values are pickled, except ints, which are stored natively so ``incr`` is one UPDATE.
"""

from __future__ import annotations

import os
import pickle
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

_NEVER = 1e18  # "no expiry", still comparable with time.time()
_SCHEMA = "CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, value BLOB, expires REAL NOT NULL) WITHOUT ROWID"


class SQLiteCache(BaseCache):
    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._path = Path(location)
        self._local = threading.local()
        # Expired rows are deleted by about one write in this many (reads ignore them anyway).
        self._prune_every = max(1, int(params.get("OPTIONS", {}).get("PRUNE_EVERY", 1000)))

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        # A connection must not cross a fork (granian forks its workers).
        if conn is None or self._local.pid != os.getpid():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, timeout=2.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(_SCHEMA)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @staticmethod
    def _encode(value: Any) -> Any:
        return value if type(value) is int else pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def _decode(stored: Any) -> Any:
        return stored if isinstance(stored, int) else pickle.loads(stored)  # our own data, written by this class

    def _expiry(self, timeout: Any) -> float:
        seconds = self.get_backend_timeout(timeout)
        return _NEVER if seconds is None else seconds

    def _maybe_prune(self, conn: sqlite3.Connection) -> None:
        if random.randrange(self._prune_every) == 0:
            conn.execute("DELETE FROM cache WHERE expires < ?", (time.time(),))

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        row = (
            self._db().execute("SELECT value FROM cache WHERE key = ? AND expires >= ?", (key, time.time())).fetchone()
        )
        return default if row is None else self._decode(row[0])

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        key = self.make_and_validate_key(key, version=version)
        conn = self._db()
        conn.execute(
            "INSERT OR REPLACE INTO cache (key, value, expires) VALUES (?, ?, ?)",
            (key, self._encode(value), self._expiry(timeout)),
        )
        self._maybe_prune(conn)

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        cursor = self._db().execute(
            "INSERT INTO cache (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET "
            "value = excluded.value, expires = excluded.expires WHERE cache.expires < ?",
            (key, self._encode(value), self._expiry(timeout), time.time()),
        )
        return cursor.rowcount == 1

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        row = (
            self._db()
            .execute(
                "UPDATE cache SET value = value + ? WHERE key = ? AND expires >= ? AND typeof(value) = 'integer' "
                "RETURNING value",
                (delta, key, time.time()),
            )
            .fetchone()
        )
        if row is None:
            raise ValueError(f"Key '{key}' not found (or not an integer)")
        return row[0]

    def touch(self, key: str, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        cursor = self._db().execute(
            "UPDATE cache SET expires = ? WHERE key = ? AND expires >= ?", (self._expiry(timeout), key, time.time())
        )
        return cursor.rowcount == 1

    def delete(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._db().execute("DELETE FROM cache WHERE key = ?", (key,)).rowcount == 1

    def has_key(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return (
            self._db().execute("SELECT 1 FROM cache WHERE key = ? AND expires >= ?", (key, time.time())).fetchone()
            is not None
        )

    def clear(self) -> None:
        self._db().execute("DELETE FROM cache")

    def close(self, **kwargs: Any) -> None:
        # Django calls close() after every request; the connection is kept (opening one costs more).
        pass
