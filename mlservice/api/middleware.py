"""Request context: request id in and out, Host validation, timing, metrics, the request's failure
log line, and handing the finished request to the request log.

Kept as one middleware (not several) because each middleware layer costs on every request.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import DisallowedHost
from django.http import FileResponse, HttpRequest, HttpResponse
from django.utils.log import log_response

from mlservice import metrics

from .exceptions import error_message, json_error
from .log_context import fast_uuid4, request_id_var

access_logger = logging.getLogger("mlservice.access")
request_logger = logging.getLogger("django.request")
host_logger = logging.getLogger("django.security.DisallowedHost")
# A dependency that is down or not configured (502/503/504) is an answer we documented, not a bug.
_EXPECTED_5XX = frozenset({502, 503, 504})
# Probes and the Prometheus scrape come from inside the cluster addressed by the pod's IP, which
# is rarely in ALLOWED_HOSTS; they build no URL from the Host header, so it need not be checked.
_HOST_CHECK_EXEMPT = (
    "/health",
    "/live",
    "/ready",
    "/metrics",
    "/api/v1/health",
    "/api/v1/live",
    "/api/v1/ready",
    "/api/v1/metrics",
)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

# Called as observer(request, response, duration_ms) after every response, inside the request's
# id context. The request log registers its recorder here (requestlog/apps.py): this layer knows
# no app, the app knows this layer.
ResponseObserver = Callable[[HttpRequest, HttpResponse, float], None]
_response_observers: list[ResponseObserver] = []


def observe_responses(observer: ResponseObserver) -> None:
    """Register ``observer`` once (``AppConfig.ready`` may run again in tests)."""
    if observer not in _response_observers:
        _response_observers.append(observer)


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.access_log = settings.ACCESS_LOG
        # Django checks the Host header only when something calls request.get_host(), and no layer
        # of an API request did: ALLOWED_HOSTS was not enforced there. "*" has nothing to check.
        self.check_host = "*" not in settings.ALLOWED_HOSTS

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else str(fast_uuid4())
        request.request_id = request_id  # type: ignore[attr-defined]  # our own attribute on Django's request
        token = request_id_var.set(request_id)
        try:
            response = (self.check_host and _refuse_host(request)) or self.get_response(request)
            elapsed = time.perf_counter() - started
            response["X-Request-ID"] = request_id
            self._observe(request, response, elapsed)
            if response.status_code >= 400 and not getattr(response, "_has_been_logged", False):
                _log_failure(request, response)
            if response.streaming:
                _keep_request_id_while_streaming(response, request_id)
            for observer in _response_observers:
                observer(request, response, elapsed * 1000.0)
        finally:
            request_id_var.reset(token)
        return response

    def _observe(self, request: HttpRequest, response: HttpResponse, elapsed: float) -> None:
        match = getattr(request, "resolver_match", None)
        # The route pattern, not the raw path, keeps label cardinality bounded.
        route = match.route if match is not None else metrics.UNMATCHED_ROUTE
        method = request.method or "GET"
        metrics.observe_request(method, route, response.status_code, elapsed)
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


def _refuse_host(request: HttpRequest) -> HttpResponse | None:
    """A 400 for a Host header outside ALLOWED_HOSTS (None when it is allowed)."""
    if request.path.startswith(_HOST_CHECK_EXEMPT):
        return None
    try:
        request.get_host()
    except DisallowedHost as exc:
        # Django logs this at ERROR with a traceback; it is a client's mistake (or a scan).
        host_logger.warning("%s", exc)
        response = json_error(400, "Bad Request", ["Invalid Host header"])
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own flag: do not log it again
        return response
    return None


def _log_failure(request: HttpRequest, response: HttpResponse) -> None:
    """The ``django.request`` line of a 4xx/5xx, logged here so that it carries the request id.

    Django would log it after the middleware chain returned (no request id any more), and at
    ERROR for every 5xx. Here: a bug (500) stays ERROR, with its traceback logged where it was
    caught; a documented outcome (502/503/504: a dependency down or not configured) is WARNING;
    a client error (4xx) is INFO. The message adds the error the client was given.
    """
    status = response.status_code
    if status < 500:
        level = "info"
    elif status in _EXPECTED_5XX:
        level = "warning"
    else:
        level = "error"
    detail = None
    if not response.streaming and response.get("Content-Type", "").startswith("application/json"):
        content = response.content
        detail = error_message(content) if len(content) <= 16_384 else None
        if detail == response.reason_phrase:
            detail = None
    log_response(
        "%s: %s (%s)" if detail else "%s: %s",
        response.reason_phrase,
        request.path,
        *([detail] if detail else []),
        response=response,
        request=request,
        logger=request_logger,
        level=level,
    )


def _keep_request_id_while_streaming(response: Any, request_id: str) -> None:
    """A streamed body is produced after this middleware returned: give its log lines the id too."""
    if isinstance(response, FileResponse):
        return  # a file logs nothing while it is read, and the server may send it with sendfile
    if getattr(response, "is_async", False):
        response.streaming_content = _async_with_request_id(response.streaming_content, request_id)
    else:
        response.streaming_content = _with_request_id(response.streaming_content, request_id)


def _with_request_id(chunks: Iterator[bytes], request_id: str) -> Iterator[bytes]:
    iterator = iter(chunks)
    while True:
        token = request_id_var.set(request_id)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        finally:
            request_id_var.reset(token)
        yield chunk


async def _async_with_request_id(chunks: AsyncIterator[bytes], request_id: str) -> AsyncIterator[bytes]:
    iterator = aiter(chunks)
    while True:
        token = request_id_var.set(request_id)
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            return
        finally:
            request_id_var.reset(token)
        yield chunk


# Sessions, authentication and messages serve the admin and the docs pages only. The API is
# token-based and stateless, so these layers pass API requests straight through: the subclasses
# keep Django's admin checks satisfied while removing their per-request cost from the hot path.
BROWSER_PATH_PREFIXES = ("/admin", "/api/v1/docs", "/api/v1/redoc", "/api/v1/schema", "/accounts")


class _BrowserOnly:
    get_response: Callable[[HttpRequest], HttpResponse]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(BROWSER_PATH_PREFIXES):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]  # a mixin: the middleware it precedes has __call__


class BrowserSessionMiddleware(_BrowserOnly, SessionMiddleware):
    pass


class BrowserAuthenticationMiddleware(_BrowserOnly, AuthenticationMiddleware):
    pass


class BrowserMessageMiddleware(_BrowserOnly, MessageMiddleware):
    pass
