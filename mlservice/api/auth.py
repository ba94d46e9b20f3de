"""DRF authentication, permission and throttles for API keys and client IPs."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from services import auth_service

from .cache import guarded_cache


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
        if raw is None or not auth_service.get_instance().auth_enabled():
            return None
        key_id = auth_service.get_instance().verify(raw)
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
        if not auth_service.get_instance().auth_enabled():
            return True
        raise exceptions.NotAuthenticated(self.message)


class _GuardedThrottle(throttling.SimpleRateThrottle):
    """Counts in the shared cache (Redis in production); if the cache is down, requests go through."""

    cache = guarded_cache

    def get_rate(self) -> str | None:
        # Read at request time (DRF reads it once at import), so settings changes apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None or not guarded_cache.available:
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

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
