"""One place that turns every failure into the contract's error bodies (contract 2.4 and 9.5).

- validation: 400 ``{"success": false, "error": "Bad Request", "message": [...], "statusCode": 400}``
- runtime/service failures: ``{"success": false, "error": "<message>", "statusCode": <status>}``
- anything unexpected: 500 with a generic message; the traceback goes to the log, never the client.
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

    def __init__(self, message: str, status_code: int | None = None) -> None:
        if status_code is not None:
            self.status_code = status_code
        self.message = message
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


def contract_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
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


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(404, "Not Found", f"Cannot {request.method} {request.path}")


def server_error_view(request: HttpRequest) -> JsonResponse:
    return json_error(500, "Internal server error")


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return json_error(413, "Request body is too large")
    return json_error(400, "Bad Request", ["Bad Request"])


def permission_denied_view(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(403, "Forbidden", "You do not have permission to perform this action.")
