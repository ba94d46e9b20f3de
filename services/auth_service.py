"""API-key verification for the service (issue 7).

Keys come from ``ML_SERVICE_API_KEYS`` (comma-separated, for simple deployments) and from the
``ApiKey`` table (hashed, managed in the admin or with ``manage.py apikey``). When neither has a
key (a revoked key counts: revoking the last key locks the API), the API is open, as the TS
service is. Database lookups are cached in process memory for
``API_KEY_CACHE_SECONDS`` so a request costs no query; a revoked key stops working within that time.
"""

from __future__ import annotations

import functools
import hmac
import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from apikeys.models import ApiKey, hash_key

logger = logging.getLogger("mlservice.auth")


class AuthService:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._db_hashes: dict[str, int] = {}
        self._db_has_keys = False
        self._loaded_at = float("-inf")

    def _env_hashes(self) -> set[str]:
        return {hash_key(key) for key in settings.ML_SERVICE_API_KEYS}

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded_at < settings.API_KEY_CACHE_SECONDS:
            return
        with self._lock:
            if time.monotonic() - self._loaded_at < settings.API_KEY_CACHE_SECONDS:
                return
            try:
                self._db_hashes = dict(ApiKey.objects.filter(revoked=False).values_list("key_hash", "id"))
                # Revoking the last key must lock the API, not open it again.
                self._db_has_keys = bool(self._db_hashes) or ApiKey.objects.exists()
            except DatabaseError as exc:
                # Keep the last known keys: a database blip must not lock every client out.
                logger.warning("Could not load API keys from the database: %s", exc)
            self._loaded_at = time.monotonic()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def auth_enabled(self) -> bool:
        self._refresh()
        return bool(settings.ML_SERVICE_API_KEYS or self._db_has_keys)

    def verify(self, raw_key: str) -> str | None:
        """The key's identity (``env`` or ``db:<id>``) when valid, else None."""
        digest = hash_key(raw_key)
        if any(hmac.compare_digest(digest, known) for known in self._env_hashes()):
            return "env"
        self._refresh()
        key_id = self._db_hashes.get(digest)
        if key_id is None:
            return None
        self._touch(key_id)
        return f"db:{key_id}"

    @staticmethod
    def _touch(key_id: int) -> None:
        try:
            ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())
        except DatabaseError:
            pass


@functools.cache
def get_instance() -> AuthService:
    return AuthService()
