"""One policy for turning provider SDK failures (OpenAI, Anthropic, compatible servers) into API errors.

| provider failure                          | our answer | why                                         |
| ----------------------------------------- | ---------- | ------------------------------------------- |
| 400/404/413/422 (it rejected the input)   | 400        | the client's input or model name is the fix |
| 401/403 (bad key, no access)              | 503        | unusable as configured; names the setting   |
| 429 (rate limit, quota) after SDK retries | 503        | try again later                             |
| other status (5xx...)                     | 502        | the provider failed                         |
| timeout                                   | 502        | the provider failed to answer in time       |
| connection refused / DNS                  | 503        | the dependency is down or mis-addressed     |

Messages name the provider, the operation and the setting to check, so an operator can act on them.
"""

from __future__ import annotations

import logging

from .errors import BadRequest, ServiceError, ServiceUnavailable, UpstreamError

logger = logging.getLogger("mlservice.providers")

_INPUT_REJECTED = {400, 404, 413, 422}


def map_provider_error(
    exc: Exception, provider: str, operation: str, key_setting: str, url_setting: str
) -> ServiceError:
    """``exc`` is an ``openai`` or ``anthropic`` SDK exception (both name their classes alike)."""
    status = getattr(exc, "status_code", None)
    detail = provider_message(exc).rstrip(".")
    kind = type(exc).__name__
    if status in _INPUT_REJECTED:
        error: ServiceError = BadRequest(f"{provider} rejected the {operation} request ({status}): {detail}")
    elif status in (401, 403):
        error = ServiceUnavailable(f"{provider} rejected the credentials ({status}): {detail}. Check {key_setting}.")
    elif status == 429:
        error = ServiceUnavailable(f"{provider} is rate limiting {operation} requests (429): {detail}. Retry later.")
    elif status is not None:
        error = UpstreamError(f"{provider} {operation} failed ({status}): {detail}")
    elif kind == "APITimeoutError":
        error = UpstreamError(f"{provider} did not answer in time (PROVIDER_TIMEOUT_SECONDS): {detail}")
    elif kind == "APIConnectionError":
        error = ServiceUnavailable(f"{provider} could not be reached: {detail}. Check {url_setting} and the network.")
    else:
        error = UpstreamError(f"{provider} {operation} failed: {detail}")
    logger.warning("%s %s error: %s", provider, operation, error.message)
    return error


def provider_message(exc: Exception) -> str:
    """The provider's own error message when its body has one, else the exception text (capped)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
        if isinstance(inner, str):
            return inner[:300]
    return (getattr(exc, "message", None) or str(exc) or type(exc).__name__)[:300]
