"""OpenAI's streamed chat wire format: ``chat.completion.chunk`` lines and an in-band error.

One builder for both streaming chats (plain, generation/openai_compat.py, and with a RAG collection,
generation/openai_rag.py), so their chunks cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from mlservice.api.exceptions import openai_error_body
from mlservice.api.renderers import dumps

ZERO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def _line(payload: dict[str, Any]) -> bytes:
    return b"data: " + dumps(payload) + b"\n\n"


def _head(completion_id: str, created: int, model: str) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
    }


def chat_chunk(
    completion_id: str, created: int, model: str, delta: dict[str, Any], finish: str | None = None, **extra: Any
) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return _line({**_head(completion_id, created, model), "choices": [choice], **extra})


def usage_chunk(completion_id: str, created: int, model: str, usage: dict[str, Any] | None) -> bytes:
    """The last chunk when ``stream_options.include_usage`` is set: no choices, the totals."""
    return _line({**_head(completion_id, created, model), "choices": [], "usage": {**ZERO_USAGE, **(usage or {})}})


def openai_error_event(status: int, message: str, param: str | None = None) -> bytes:
    """A failure after the 200, the way OpenAI sends one (its SDKs raise it as an APIError)."""
    return _line(openai_error_body(status, message, param))
