"""The errors services raise, free of DRF and of any wire format (Zulip's ``JsonableError`` design).

Each class has a stable machine-readable ``code``, an HTTP ``status``, a ``message`` a client may
read, optional ``headers`` (``Retry-After``...) and optional ``extra`` fields for the log. The HTTP
layer maps them: ``mlservice.api.exceptions`` writes the contract's native body
(``{"success": false, "error": message, "statusCode": status}``) or OpenAI's envelope on ``/v1/*``.
The contract fixes the native body's keys, so ``code`` travels in the ``X-Error-Code`` header and
the log, not in the body.
"""

from __future__ import annotations

from typing import Any, ClassVar

ERROR_CODE_HEADER = "X-Error-Code"


class ServiceError(Exception):
    """A failure the client should see with its own message (a provider down, a bad audio file...)."""

    # A class default that one instance may make more precise (``code=`` below).
    code: str = "service_error"
    default_status: ClassVar[int] = 500
    # Whether a client should try again; None lets the status decide (408/409/429 and 5xx: yes).
    retryable: ClassVar[bool | None] = None

    def __init__(
        self,
        message: str,
        status: int | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status if status is not None else self.default_status
        if code is not None:
            self.code = code  # a more precise code for this one instance
        self.param = param  # the offending request field, for OpenAI's error envelope
        self.headers: dict[str, str] = dict(headers or {})
        if retry_after is not None:
            self.headers["Retry-After"] = retry_after_header(retry_after)
        self.extra = extra

    @property
    def status_code(self) -> int:
        """The name DRF and Django responses use for the same number."""
        return self.status

    def __str__(self) -> str:
        return self.message


def retry_after_header(seconds: float) -> str:
    """Whole seconds, at least 1 (a fraction rounds up: the client must not come back too early)."""
    return str(max(1, int(seconds + 0.999)))


class BadRequest(ServiceError):
    code = "bad_request"
    default_status = 400


class NotFoundError(ServiceError):
    code = "not_found"
    default_status = 404


class PayloadTooLarge(ServiceError):
    code = "payload_too_large"
    default_status = 413


class UnsupportedMedia(ServiceError):
    code = "unsupported_media_type"
    default_status = 415


class UpstreamError(ServiceError):
    """A provider (OpenAI, Anthropic, Qdrant...) answered with an error: 502."""

    code = "upstream_error"
    default_status = 502


class ServiceUnavailable(ServiceError):
    """A dependency is down or not configured: 503."""

    code = "service_unavailable"
    default_status = 503


class NotConfigured(ServiceUnavailable):
    """503 that only an operator can cure (no provider or model configured): clients must not retry."""

    code = "not_configured"
    retryable = False
