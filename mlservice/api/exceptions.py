"""One place that turns every failure into the contract's error bodies (contract 2.4 and 9.5).

- validation: 400 ``{"success": false, "error": "Bad Request", "message": [...], "statusCode": 400}``
- runtime/service failures: ``{"success": false, "error": "<message>", "statusCode": <status>}``
- anything unexpected: 500 with a generic message; the traceback goes to the log, never the client.

Routes under ``/v1/`` speak OpenAI's wire format instead (``openai_exception_handler``): the same
statuses and headers in OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}``, plus
``x-should-retry: false`` on errors no retry can cure, which OpenAI's SDKs honour.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.settings import api_settings

# The error classes live in mlservice.core.errors: services raise them and must not import this module.
from mlservice.core.errors import ERROR_CODE_HEADER, ServiceError, retry_after_header

logger = logging.getLogger("mlservice.errors")


def error_body(status_code: int, error: str, message: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": error}
    if message is not None:
        body["message"] = message
    body["statusCode"] = status_code
    return body


def validation_messages(detail: Any, prefix: str = "") -> list[str]:
    """Flatten DRF's nested error detail into class-validator style sentences."""
    if isinstance(detail, dict):
        messages: list[str] = []
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                messages.extend(_with_field(prefix.rstrip("."), msg) if prefix else str(msg) for msg in _leaves(value))
            else:
                messages.extend(validation_messages(value, f"{prefix}{key}."))
        return messages
    if isinstance(detail, list) and detail and all(isinstance(item, dict | list) for item in detail):
        messages = []
        for index, item in enumerate(detail):
            messages.extend(validation_messages(item, f"{prefix}{index}."))
        return messages
    field = prefix.rstrip(".")
    return [_with_field(field, str(msg)) for msg in _leaves(detail)]


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        yield from validation_messages(value)
    else:
        yield value


def _with_field(field: str, message: str) -> str:
    if "{field}" in message:
        return message.replace("{field}", field)
    if message.startswith("property ") or not field:
        return f"{field}.{message}" if field and message.startswith("property ") else message
    return f"{field} {message}"


OPENAI_PATH_PREFIX = "/v1/"
# OpenAI's SDKs retry these statuses (and every 5xx) unless told ``x-should-retry: false``.
_RETRIED_STATUSES = frozenset({408, 409, 429})
_OPENAI_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}
_OPENAI_CODES = {401: "invalid_api_key", 429: "rate_limit_exceeded"}


@dataclass
class Failure:
    """What both wire formats say about one failure: the native body's ``error`` and ``message``,
    the status, the headers, and (for OpenAI's envelope) the text, the offending field and whether
    a retry can help."""

    status: int
    error: str
    message: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    param: str | None = None
    retryable: bool | None = None  # None: the status decides
    text: str | None = None  # OpenAI's message when it differs from the native body's

    @property
    def openai_text(self) -> str:
        if self.text is not None:
            return self.text
        message = self.message or self.error
        return "; ".join(map(str, message)) if isinstance(message, list) else str(message)

    @property
    def should_retry(self) -> bool:
        if self.retryable is not None:
            return self.retryable
        return self.status in _RETRIED_STATUSES or self.status >= 500


def contract_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: the contract's error body, or OpenAI's on ``/v1/*`` routes."""
    request = context.get("request")
    if request is not None and is_openai_path(request.path_info):
        return openai_exception_handler(exc, context)
    return native_exception_handler(exc, context)


def is_openai_path(path: str) -> bool:
    """Routes under /v1/ speak OpenAI's wire format (mlservice/urls.py serves them at the root only)."""
    return path.startswith(OPENAI_PATH_PREFIX)


def native_exception_handler(exc: Exception, context: dict[str, Any] | None = None) -> Response:
    """The contract's error body (module docstring) with the failure's headers."""
    failure = describe(exc, context or {})
    return _with_headers(Response(error_body(failure.status, failure.error, failure.message), status=failure.status),
                         failure)  # fmt: skip


def openai_exception_handler(exc: Exception, context: dict[str, Any] | None = None) -> Response:
    """Every /v1/* failure (validation, bad JSON, auth, throttling, service errors) in OpenAI's
    envelope, with the contract's status and headers (Retry-After, WWW-Authenticate) kept."""
    failure = describe(exc, context or {})
    return _with_headers(Response(openai_error_body(failure.status, failure.openai_text, failure.param),
                                  status=failure.status), failure, openai=True)  # fmt: skip


def openai_error_body(status_code: int, message: str, param: str | None = None) -> dict[str, Any]:
    kind = _OPENAI_TYPES.get(status_code, "invalid_request_error" if status_code < 500 else "api_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": _OPENAI_CODES.get(status_code)}}


def _with_headers(response: Response | JsonResponse, failure: Failure, *, openai: bool = False) -> Any:
    for name, value in failure.headers.items():
        response[name] = value
    if openai and not failure.should_retry:
        response["x-should-retry"] = "false"
    return response


def describe(exc: Exception, context: dict[str, Any]) -> Failure:
    """One reading of any exception a view can raise; both handlers render it."""
    if isinstance(exc, ServiceError):
        headers = {ERROR_CODE_HEADER: exc.code, **exc.headers}
        return Failure(exc.status, exc.message, headers=headers, param=exc.param, retryable=exc.retryable)
    if isinstance(exc, exceptions.ValidationError):
        messages = validation_messages(exc.detail)
        return Failure(400, "Bad Request", messages, text="; ".join(messages))
    if isinstance(exc, exceptions.ParseError):
        text = "Invalid JSON body: " + str(exc.detail).removeprefix("Malformed JSON: ")
        return Failure(400, "Bad Request", [str(exc.detail)], text=text)
    if isinstance(exc, RequestDataTooBig):
        return Failure(413, "Request body is too large")
    if isinstance(exc, Http404):
        return Failure(404, "Not Found", str(exc) or "Not Found")
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return Failure(exc.status_code, HTTPStatus(exc.status_code).phrase, detail, headers=_drf_headers(exc, context))
    logger.exception("Unhandled error: %s", exc)
    return Failure(500, "Internal server error")


def _drf_headers(exc: exceptions.APIException, context: dict[str, Any]) -> dict[str, str]:
    """The headers DRF's own handler would add: Retry-After for throttling, WWW-Authenticate on a 401
    (DRF turns a missing/failed authentication into 403 when the view names no scheme)."""
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = retry_after_header(exc.wait)
    view, request = context.get("view"), context.get("request")
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed) and exc.status_code == 401:
        challenge = view.get_authenticate_header(request) if view is not None and request is not None else None
        if challenge:
            headers["WWW-Authenticate"] = challenge
    return headers


def error_message(body: bytes | None) -> str | None:
    """The message of a contract error body (``message`` list joined, else ``error``): for the logs."""
    if body is None:
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, dict):
        message = parsed.get("message")
        if isinstance(message, list):
            return "; ".join(str(m) for m in message)
        return str(parsed.get("error") or message or "") or None
    return None


def json_error(status_code: int, error: str, message: Any = None) -> JsonResponse:
    return JsonResponse(error_body(status_code, error, message), status=status_code)


def request_error(request: HttpRequest, status_code: int, error: str, message: Any = None) -> JsonResponse:
    """Errors Django answers outside DRF (unknown route, 500, oversized body): same language as the views."""
    failure = Failure(status_code, error, message)
    if not is_openai_path(request.path_info):
        return json_error(status_code, error, message)
    body = openai_error_body(status_code, failure.openai_text)
    return _with_headers(JsonResponse(body, status=status_code), failure, openai=True)


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return request_error(request, 404, "Not Found", f"Cannot {request.method} {request.path}")


def server_error_view(request: HttpRequest) -> JsonResponse:
    return request_error(request, 500, "Internal server error")


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return request_error(request, 413, "Request body is too large")
    return request_error(request, 400, "Bad Request", ["Bad Request"])


def permission_denied_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return request_error(request, 403, "Forbidden", "You do not have permission to perform this action.")
