"""DRF authentication, permission and throttles for API keys and client IPs."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import caches
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from mlservice.core.cache import GuardedCache
from mlservice.core.errors import ServiceUnavailable
from services import auth_service

from .client_ip import client_ip

logger = logging.getLogger("mlservice.auth")

# Throttle counters live in their own cache alias, shared by the worker processes: Redis when
# REDIS_URL is set, else one SQLite file per machine (settings.base, mlservice/api/sqlite_cache.py).
THROTTLE_CACHE_ALIAS = "throttle"
throttle_cache = GuardedCache(THROTTLE_CACHE_ALIAS, label="Throttle cache")


class KeysUnavailableError(ServiceUnavailable):
    """503 with Retry-After while no key list is loaded."""

    code = "api_keys_unavailable"

    def __init__(self, error: auth_service.KeysUnavailable) -> None:
        super().__init__(str(error), retry_after=error.retry_after)


def _auth_enabled() -> bool:
    try:
        return auth_service.get_instance().auth_enabled()
    except auth_service.KeysUnavailable as exc:
        raise KeysUnavailableError(exc) from None


class ApiKeyUser:
    """The identity of a request authenticated by an API key."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id

    def __str__(self) -> str:
        return f"api-key:{self.key_id}"


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-API-Key") or None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyUser, str] | None:
        raw = _presented_key(request)
        # With no keys configured the API is open, and clients that always send a token (the
        # OpenAI SDK does) must not be turned away for it.
        if raw is None or not _auth_enabled():
            return None
        try:
            key_id = auth_service.get_instance().verify(raw)
        except auth_service.KeysUnavailable as exc:
            raise KeysUnavailableError(exc) from None
        if key_id is None:
            raise exceptions.AuthenticationFailed("Invalid API key")
        return ApiKeyUser(key_id), key_id

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="mlservice"'


class HasApiKeyWhenConfigured(permissions.BasePermission):
    """Open when no key is configured (as the TS service); otherwise a valid key is required."""

    message = "Missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.user, ApiKeyUser):
            return True
        if not _auth_enabled():
            return True
        raise exceptions.NotAuthenticated(self.message)


class _GuardedThrottle(throttling.SimpleRateThrottle):
    """Counts in the workers' shared throttle cache; if that cache is down, requests go through."""

    cache = throttle_cache

    def get_rate(self) -> str | None:
        # Read at request time (DRF reads it once at import), so settings changes apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None or not self.cache.available:
            return True
        return super().allow_request(request, view)


class ApiKeyRateThrottle(_GuardedThrottle):
    scope = "api_key"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.user, ApiKeyUser):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.key_id}


class IpRateThrottle(_GuardedThrottle):
    scope = "ip"

    def get_ident(self, request: Request) -> str:
        # The same address the request log stores; forwarded headers only as NUM_PROXIES allows.
        return client_ip(request)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def throttle_store_is_per_process() -> bool:
    """True when throttle counters would not be shared by the workers (a local-memory cache)."""
    backend = caches[THROTTLE_CACHE_ALIAS]
    return type(backend).__module__.startswith(
        ("django.core.cache.backends.locmem", "django.core.cache.backends.dummy")
    )


def warn_if_throttles_not_shared() -> None:
    """Say so at start-up when limits are configured but each worker would count on its own."""
    rates = {scope: rate for scope, rate in api_settings.DEFAULT_THROTTLE_RATES.items() if rate}
    login_limits = settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP or settings.ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME
    if (rates or login_limits) and throttle_store_is_per_process():
        logger.warning(
            "Throttle cache %r is local to each worker process: with N workers, rate limits %s and the "
            "admin login limits admit N times their value. Set REDIS_URL or keep the default SQLite store.",
            THROTTLE_CACHE_ALIAS, rates or "(none)",
        )  # fmt: skip
