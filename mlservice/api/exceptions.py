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
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

logger = logging.getLogger("mlservice.errors")


class ServiceError(exceptions.APIException):
    """A failure the client should see with its own message (a provider down, a bad audio file...)."""

    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_detail = "Internal server error"
    # Whether a client should try again; None lets the status decide (429 and 5xx: yes).
    retryable: bool | None = None

    def __init__(self, message: str, status_code: int | None = None, *, param: str | None = None) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.message = message
        self.param = param  # the offending request field, for OpenAI's error envelope
        super().__init__(detail=message)


class BadRequest(ServiceError):
    status_code = status.HTTP_400_BAD_REQUEST


class NotFoundError(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND


class PayloadTooLarge(ServiceError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE


class UnsupportedMedia(ServiceError):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE


class UpstreamError(ServiceError):
    """A provider (OpenAI, Anthropic, Qdrant...) answered with an error: 502."""

    status_code = status.HTTP_502_BAD_GATEWAY


class ServiceUnavailable(ServiceError):
    """A dependency is down or not configured: 503."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


class NotConfigured(ServiceUnavailable):
    """503 that only an operator can cure (no provider or model configured): clients must not retry."""

    retryable = False


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


def contract_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: the contract's error body, or OpenAI's on ``/v1/*`` routes."""
    request = context.get("request")
    if request is not None and is_openai_path(request.path_info):
        return openai_exception_handler(exc, context)
    return _contract_response(exc)


def is_openai_path(path: str) -> bool:
    """Routes under /v1/ speak OpenAI's wire format (mlservice/urls.py serves them at the root only)."""
    return path.startswith(OPENAI_PATH_PREFIX)


def openai_exception_handler(exc: Exception, context: dict[str, Any] | None = None) -> Response:
    """Every /v1/* failure (validation, bad JSON, auth, throttling, service errors) in OpenAI's
    envelope, with the contract's status and headers (Retry-After, WWW-Authenticate) kept."""
    response = _contract_response(exc)
    message = _openai_message(exc, response.data)
    response.data = openai_error_body(response.status_code, message, getattr(exc, "param", None))
    if not _retryable(exc, response.status_code):
        response["x-should-retry"] = "false"
    return response


def openai_error_body(status_code: int, message: str, param: str | None = None) -> dict[str, Any]:
    kind = _OPENAI_TYPES.get(status_code, "invalid_request_error" if status_code < 500 else "api_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": _OPENAI_CODES.get(status_code)}}


def _openai_message(exc: Exception, contract_body: Any) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "; ".join(validation_messages(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return "Invalid JSON body: " + str(exc.detail).removeprefix("Malformed JSON: ")
    if not isinstance(contract_body, dict):
        return "Internal server error"
    # The contract puts a ServiceError's text in "error" and an APIException's detail in "message".
    message = contract_body.get("message") or contract_body.get("error") or ""
    return "; ".join(map(str, message)) if isinstance(message, list) else str(message)


def _retryable(exc: Exception, status_code: int) -> bool:
    explicit = getattr(exc, "retryable", None)
    if explicit is not None:
        return bool(explicit)
    return status_code in _RETRIED_STATUSES or status_code >= 500


def _contract_response(exc: Exception) -> Response:
    response = _handle(exc)
    headers = getattr(exc, "auth_header", None)
    if headers:
        response["WWW-Authenticate"] = headers
    wait = getattr(exc, "wait", None)
    if wait is not None:
        response["Retry-After"] = str(max(1, int(wait + 0.999)))
    return response


def _handle(exc: Exception) -> Response:
    if isinstance(exc, exceptions.ValidationError):
        messages = validation_messages(exc.detail)
        return Response(error_body(400, "Bad Request", messages), status=400)
    if isinstance(exc, exceptions.ParseError):
        return Response(error_body(400, "Bad Request", [str(exc.detail)]), status=400)
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.status_code, exc.message), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(413, "Request body is too large"), status=413)
    if isinstance(exc, Http404):
        return Response(error_body(404, "Not Found", str(exc) or "Not Found"), status=404)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        phrase = HTTPStatus(exc.status_code).phrase
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return Response(error_body(exc.status_code, phrase, detail), status=exc.status_code)
    logger.exception("Unhandled error: %s", exc)
    return Response(error_body(500, "Internal server error"), status=500)


def json_error(status_code: int, error: str, message: Any = None) -> JsonResponse:
    return JsonResponse(error_body(status_code, error, message), status=status_code)


def request_error(request: HttpRequest, status_code: int, error: str, message: Any = None) -> JsonResponse:
    """Errors Django answers outside DRF (unknown route, 500, oversized body): same language as the views."""
    if not is_openai_path(request.path_info):
        return json_error(status_code, error, message)
    text = "; ".join(message) if isinstance(message, list) else str(message or error)
    response = JsonResponse(openai_error_body(status_code, text), status=status_code)
    if status_code < 500 and status_code not in _RETRIED_STATUSES:
        response["x-should-retry"] = "false"
    return response


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
