"""The client's IP address, as far as the configured proxies let us know it.

One function for the per-IP throttle and the request log, so that both name the same client.
``X-Forwarded-For`` is written by the client first and by each proxy after it, so only what the
``NUM_PROXIES`` trusted proxies appended is believed; with ``NUM_PROXIES=0`` (the default) the
header is ignored and the socket's ``REMOTE_ADDR`` is the client. Trusting the
whole header let anyone pick a fresh identity per request and walk past the per-IP throttle.
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest
from rest_framework.settings import api_settings


def client_ip(request: HttpRequest) -> str:
    """The client's address (``REMOTE_ADDR`` unless NUM_PROXIES trusted proxies forwarded it)."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "")
    proxies = api_settings.NUM_PROXIES or 0
    if proxies <= 0:
        return remote
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    if not forwarded:
        return remote
    hops = forwarded.split(",")
    # The proxies append; the entry written by the farthest trusted one is the client.
    candidate = hops[-min(proxies, len(hops))].strip()
    return candidate if _is_ip(candidate) else remote


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
