"""schemathesis check for benchmarks/fuzz_api.py, loaded through SCHEMATHESIS_HOOKS.

The fuzzed server runs as a laptop would, with no LLM or image provider configured. Then the
documented answer of /generation/*, /chat/completions and /analysis/generate is a 503 naming the
settings to set, which the stock `not_a_server_error` check counts as a failure. This check accepts
exactly those answers and fails every other 5xx, including 503s for any other reason.
"""

from __future__ import annotations

import re

import schemathesis

# The start of each "provider not configured" message (services/llm_service.py, services/generation_service.py).
UNCONFIGURED_PROVIDER_MESSAGES = (
    "No language model is configured:",
    "Image generation needs OPENAI_API_KEY",
)


# A local model's admission gate (services/model_gate.py) refusing work with 503 + Retry-After is
# the documented answer to load, which the fuzzer's concurrent generations create on 2 cores.
BUSY_MODEL_MESSAGE = re.compile(r"^The [\w.-]+ model is busy ")


def is_busy_model_answer(status_code: int, body: object, retry_after: str | None) -> bool:
    if status_code != 503 or not retry_after or not isinstance(body, dict):
        return False
    error = body.get("error")
    return isinstance(error, str) and BUSY_MODEL_MESSAGE.match(error) is not None


def is_unconfigured_provider_answer(status_code: int, body: object) -> bool:
    if status_code != 503 or not isinstance(body, dict):
        return False
    error = body.get("error")
    return isinstance(error, str) and error.startswith(UNCONFIGURED_PROVIDER_MESSAGES)


@schemathesis.check
def no_unexpected_server_error(ctx, response, case) -> None:
    """Any 5xx fails, except the documented 503s: a provider that is not configured, a busy local model."""
    if response.status_code < 500:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if is_busy_model_answer(response.status_code, body, response.headers.get("Retry-After")):
        return
    if not is_unconfigured_provider_answer(response.status_code, body):
        raise AssertionError(f"Server error {response.status_code}: {response.text[:500]}")
