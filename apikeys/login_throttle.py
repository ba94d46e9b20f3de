"""Failed admin logins are counted per client IP and per username; past a limit, no password is checked.

Each login attempt runs the password hasher (hundreds of milliseconds of CPU on purpose), so a few
guessing loops kept both workers busy and pushed ``/live`` to 2-5 s. Once an IP or a username has
``ADMIN_LOGIN_MAX_FAILURES_PER_*`` failures within ``ADMIN_LOGIN_FAILURE_WINDOW_SECONDS``, the form
answers with an error at once, without hashing. Counters live in the throttle cache, which the
worker processes share (Redis, or the SQLite store without it). A successful login clears the
username's counter, not the IP's.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from mlservice.api.auth import throttle_cache
from mlservice.api.client_ip import client_ip


def _client_ip(request: HttpRequest | None) -> str:
    # REMOTE_ADDR, or X-Forwarded-For only as NUM_PROXIES allows: the client the API throttle sees.
    return client_ip(request) if request is not None else ""


def _counters(request: HttpRequest | None, username: str) -> list[tuple[str, int]]:
    """(cache key, limit) of each counter that applies; a limit of 0 turns that counter off."""
    counters = []
    if settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP:
        counters.append((f"admin-login:ip:{_client_ip(request)}", settings.ADMIN_LOGIN_MAX_FAILURES_PER_IP))
    if settings.ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME and username:
        # Hashed: a username is any text, and cache keys must stay short and printable.
        digest = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
        counters.append((f"admin-login:user:{digest}", settings.ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME))
    return counters


def is_blocked(request: HttpRequest | None, username: str) -> bool:
    return any((throttle_cache.get(key) or 0) >= limit for key, limit in _counters(request, username))


def record_failure(request: HttpRequest | None, username: str) -> None:
    window = settings.ADMIN_LOGIN_FAILURE_WINDOW_SECONDS
    for key, _limit in _counters(request, username):
        # Fixed window from the first failure: add() starts it, incr() counts inside it.
        if not throttle_cache.add(key, 1, window) and throttle_cache.incr(key) is None:
            throttle_cache.set(key, 1, window)


def record_success(request: HttpRequest | None, username: str) -> None:
    for key, _limit in _counters(request, username):
        if key.startswith("admin-login:user:"):
            throttle_cache.delete(key)


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "throttled": "Too many failed login attempts. Try again in %(minutes)s minutes.",
    }

    def clean(self) -> dict:
        username = self.cleaned_data.get("username") or ""
        if is_blocked(self.request, username):
            minutes = math.ceil(settings.ADMIN_LOGIN_FAILURE_WINDOW_SECONDS / 60)
            raise ValidationError(self.error_messages["throttled"], code="throttled", params={"minutes": minutes})
        try:
            cleaned = super().clean()
        except ValidationError:
            record_failure(self.request, username)
            raise
        record_success(self.request, username)
        return cleaned
