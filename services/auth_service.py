"""API-key verification for the service (issues 7 and 12).

Keys come from ``ML_SERVICE_API_KEYS`` (comma-separated, for simple deployments) and from the
``ApiKey`` table (hashed, managed in the admin or with ``manage.py apikey``). When neither has a
key (a revoked key counts: revoking the last key locks the API), the API is open, as the TS
service is.

The table's keys are cached in process memory so a request costs no query. Every
``API_KEY_CHECK_SECONDS`` (1 s) a worker reads a version stamp of the table (row count and the
newest ``updated_at``, which every change sets from the database clock) and reloads the keys when it
moved, so a key created or revoked on any instance works, or stops working, on every worker within
about a second; a full reload happens at least every ``API_KEY_CACHE_SECONDS`` anyway.

Fail closed: until the table has been read once (database down at start-up, migrations not run),
only ``ML_SERVICE_API_KEYS`` can be checked, and every other request is refused with
:class:`KeysUnavailable` (503), never let through. After a successful load a database blip keeps
the last known keys.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import threading
import time

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Max
from django.utils import timezone

from apikeys.models import ApiKey, hash_key

logger = logging.getLogger("mlservice.auth")

# last_used_at is written at most this often per key and process (it was one UPDATE per request).
TOUCH_INTERVAL_SECONDS = 60.0
# While the database fails, check this seldom: each try can wait for the connect timeout (3 s on
# PostgreSQL), and a worker has one thread.
FAILURE_RETRY_SECONDS = 5.0


class KeysUnavailable(Exception):
    """The database keys have never been loaded in this process, so a key cannot be checked."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("API keys could not be loaded from the database; retry shortly")
        self.retry_after = retry_after


def env_key_identity(raw_key: str) -> str:
    """A stable, non-reversible name for one ``ML_SERVICE_API_KEYS`` entry (logs, throttle buckets).

    Keyed with SECRET_KEY: a truncated plain hash of a weak key could be brute-forced from a log.
    """
    digest = hmac.new(settings.SECRET_KEY.encode(), raw_key.encode(), hashlib.sha256).hexdigest()
    return f"env:{digest[:12]}"


class AuthService:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._forget()

    def _forget(self) -> None:
        """The state of a freshly started worker (the lock stays: reset() holds it)."""
        self._db_hashes: dict[str, int] = {}
        self._db_has_keys = False
        self._loaded = False
        self._stamp: tuple[int, object] | None = None
        self._next_check = float("-inf")
        self._loaded_at = float("-inf")
        self._failing = False
        self._env: tuple[tuple[str, ...], dict[str, str]] = ((), {})
        self._touched: dict[int, float] = {}

    # --- environment keys
    def _env_identities(self) -> dict[str, str]:
        """hash -> identity of ML_SERVICE_API_KEYS, rebuilt only when the setting changes."""
        configured = tuple(settings.ML_SERVICE_API_KEYS)
        if self._env[0] != configured:
            self._env = (configured, {hash_key(key): env_key_identity(key) for key in configured})
        return self._env[1]

    # --- database keys
    def _refresh(self) -> None:
        if time.monotonic() < self._next_check:
            return
        # Once keys are loaded, a thread that finds another one checking carries on with them.
        if not self._lock.acquire(blocking=not self._loaded):
            return
        try:
            if time.monotonic() >= self._next_check:
                self._check()
        finally:
            self._lock.release()

    def _check(self) -> None:
        try:
            row = ApiKey.objects.aggregate(count=Count("id"), latest=Max("updated_at"))
            stamp = (row["count"], row["latest"])
            stale = time.monotonic() - self._loaded_at >= settings.API_KEY_CACHE_SECONDS
            if not self._loaded or stamp != self._stamp or stale:
                self._db_hashes = dict(ApiKey.objects.filter(revoked=False).values_list("key_hash", "id"))
                # Revoking the last key must lock the API, not open it again.
                self._db_has_keys = stamp[0] > 0
                self._stamp, self._loaded, self._loaded_at = stamp, True, time.monotonic()
            if self._failing:
                logger.info("API keys loaded from the database again")
                self._failing = False
        except DatabaseError as exc:
            if not self._failing:
                state = "keeping the last known keys" if self._loaded else "refusing requests until they load"
                logger.warning("Could not load API keys from the database (%s); %s", exc, state)
            self._failing = True
        finally:
            pause = settings.API_KEY_CHECK_SECONDS
            self._next_check = time.monotonic() + (max(pause, FAILURE_RETRY_SECONDS) if self._failing else pause)

    def _retry_after(self) -> int:
        return max(1, math.ceil(self._next_check - time.monotonic()))

    def invalidate(self) -> None:
        """Check the table on the next request (this process; others see the stamp within a second)."""
        self._next_check = float("-inf")
        self._loaded_at = float("-inf")

    def reset(self) -> None:
        """Forget everything, as a freshly started worker (tests)."""
        with self._lock:
            self._forget()

    def auth_enabled(self) -> bool:
        """Whether a key is required; raises KeysUnavailable when that cannot be known yet."""
        if settings.ML_SERVICE_API_KEYS:
            return True
        self._refresh()
        if not self._loaded:
            raise KeysUnavailable(self._retry_after())
        return self._db_has_keys

    def verify(self, raw_key: str) -> str | None:
        """The key's identity (``env:<id>`` or ``db:<id>``) when valid, else None.

        Raises KeysUnavailable for a key that is not an environment key while the database keys
        have never been loaded.
        """
        digest = hash_key(raw_key)
        identity = self._env_identities().get(digest)
        if identity is not None:
            return identity
        self._refresh()
        if not self._loaded:
            raise KeysUnavailable(self._retry_after())
        key_id = self._db_hashes.get(digest)
        if key_id is None:
            return None
        self._touch(key_id)
        return f"db:{key_id}"

    def _touch(self, key_id: int) -> None:
        now = time.monotonic()
        if now - self._touched.get(key_id, float("-inf")) < TOUCH_INTERVAL_SECONDS:
            return
        self._touched[key_id] = now
        try:
            ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())
        except DatabaseError:
            pass


@functools.cache
def get_instance() -> AuthService:
    return AuthService()
