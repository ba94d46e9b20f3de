"""Request context: request id in and out, timing, and handing the finished request to the log.

Kept as one middleware (not three) because each middleware layer costs on every request.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

from mlservice import metrics
from requestlog.recorder import record_request

from .log_context import fast_uuid4, request_id_var

access_logger = logging.getLogger("mlservice.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.access_log = settings.ACCESS_LOG

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else str(fast_uuid4())
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
            elapsed = time.perf_counter() - started
            response["X-Request-ID"] = request_id
            self._observe(request, response, elapsed)
        finally:
            request_id_var.reset(token)
        record_request(request, response, elapsed * 1000.0)
        return response

    def _observe(self, request: HttpRequest, response: HttpResponse, elapsed: float) -> None:
        match = getattr(request, "resolver_match", None)
        # The route pattern, not the raw path, keeps label cardinality bounded.
        route = match.route if match is not None else "unmatched"
        method = request.method or "GET"
        metrics.REQUESTS.labels(method, route, str(response.status_code)).inc()
        metrics.REQUEST_LATENCY.labels(method, route).observe(elapsed)
        if self.access_log:
            access_logger.info(
                "%s %s %s %.1fms",
                method,
                request.path,
                response.status_code,
                elapsed * 1000,
                extra={
                    "method": method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "route": route,
                },
            )


# Sessions, authentication and messages serve the admin and the docs pages only. The API is
# token-based and stateless, so these layers pass API requests straight through: the subclasses
# keep Django's admin checks satisfied while removing their per-request cost from the hot path.
BROWSER_PATH_PREFIXES = ("/admin", "/api/v1/docs", "/api/v1/redoc", "/api/v1/schema", "/accounts")


class _BrowserOnly:
    get_response: Callable[[HttpRequest], HttpResponse]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(BROWSER_PATH_PREFIXES):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]


class BrowserSessionMiddleware(_BrowserOnly, SessionMiddleware):
    pass


class BrowserAuthenticationMiddleware(_BrowserOnly, AuthenticationMiddleware):
    pass


class BrowserMessageMiddleware(_BrowserOnly, MessageMiddleware):
    pass
