"""Turn SDK exceptions into the API's 502/503 errors with messages an operator can act on.

- 401/403: the key is wrong or lacks access -> 503 (the provider is not usable as configured),
  naming the setting to fix.
- 429: rate limited or out of quota even after the SDK's retries -> 503 (try again later).
- other 4xx/5xx, malformed answers, timeouts, refused connections -> 502 (the provider failed).
"""

from __future__ import annotations

import logging

from mlservice.api.exceptions import ServiceError, ServiceUnavailable, UpstreamError

logger = logging.getLogger("mlservice.llm")


def map_provider_error(exc: Exception, provider: str, key_setting: str, url_setting: str) -> ServiceError:
    status = getattr(exc, "status_code", None)
    detail = _short_message(exc)
    if status in (401, 403):
        error: ServiceError = ServiceUnavailable(
            f"{provider} rejected the credentials ({status}): {detail}. Check {key_setting}."
        )
    elif status == 429:
        error = ServiceUnavailable(f"{provider} is rate limiting requests (429): {detail}. Retry later.")
    elif status is not None:
        error = UpstreamError(f"{provider} answered with an error ({status}): {detail}")
    elif type(exc).__name__ == "APITimeoutError":
        error = UpstreamError(f"{provider} did not answer in time (PROVIDER_TIMEOUT_SECONDS): {detail}")
    elif type(exc).__name__ == "APIConnectionError":
        error = UpstreamError(f"{provider} could not be reached: {detail}. Check {url_setting} and the network.")
    else:
        error = UpstreamError(f"{provider} call failed: {detail}")
    logger.warning("llm provider error: %s", error.message)
    return error


def _short_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return (str(exc) or type(exc).__name__)[:300]
