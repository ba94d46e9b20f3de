"""RAG through the OpenAI-compatible chat: ``POST /v1/chat/completions`` with an extra ``collection``.

    client.chat.completions.create(model=..., messages=[...], stream=True,
                                   extra_body={"collection": "docs", "rag": {"contextLimit": 3}})

The last user message is the question: it is searched in ``collection`` (``rag``: ``contextLimit``
1-20, default 5; ``minScore`` 0-1, default 0.5; ``mode`` hybrid/dense/lexical), and the model
answers from the retrieved chunks, citing them as [n] (as ``/rag/query`` does; earlier turns are
not sent, system messages are added to the RAG instructions). The answer is OpenAI's
``chat.completion`` plus two extra fields, ``sources`` (``/rag/query``'s list, numbered [1]... in
order) and ``citations``; streamed, the first ``chat.completion.chunk`` carries ``sources`` and
the one with ``finish_reason`` carries ``citations``. OpenAI's SDKs keep unknown fields
(``chunk.model_extra["sources"]``). With no LLM the answer is extractive (``model: extractive``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import HttpResponse

from mlservice.api.renderers import dumps
from mlservice.api.sse import DONE, sse_response
from mlservice.core.errors import ServiceError
from services import rag_service
from services.rag_service import DEFAULT_SYSTEM_PROMPT, MODES

from .openai_chunks import chat_chunk, openai_error_event, usage_chunk

SCHEMA_DESCRIPTION = """OpenAI's chat completions. Extra (RAG): `collection` (a RAG collection) and optional
`rag` (`contextLimit` 1-20, `minScore` 0-1, `mode`): the last user message is searched in the
collection and answered from the retrieved chunks with [n] citations; the answer adds `sources`
(as `/rag/query` lists them) and `citations`; streamed, the first chunk carries `sources` and the
chunk with `finish_reason` carries `citations`."""

OPTIONS = {"contextlimit": "context_limit", "minscore": "min_score", "mode": "mode"}


class RagRequestError(ValueError):
    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def parse_rag(body: dict[str, Any]) -> dict[str, Any] | None:
    """``collection`` and ``rag`` of a chat request (None without ``collection``)."""
    collection, options = body.get("collection"), body.get("rag")
    if collection is None:
        if options is not None:
            raise RagRequestError("rag options need a collection", "rag")
        return None
    if not isinstance(collection, str) or not collection.strip():
        raise RagRequestError("collection must be a non-empty string", "collection")
    if options is not None and not isinstance(options, dict):
        raise RagRequestError("rag must be an object: contextLimit, minScore, mode", "rag")
    parsed: dict[str, Any] = {"collection": collection, "context_limit": 5, "min_score": 0.5, "mode": "hybrid"}
    for key, value in (options or {}).items():
        name = OPTIONS.get(key.replace("_", "").lower())
        param = f"rag.{key}"
        if name is None:
            raise RagRequestError(f"{param} is not an option (contextLimit, minScore, mode)", param)
        if name == "mode":
            if value not in MODES:
                raise RagRequestError(f"{param} must be one of {', '.join(MODES)}", param)
        elif name == "context_limit":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
                raise RagRequestError(f"{param} must be an integer from 1 to 20", param)
        elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise RagRequestError(f"{param} must be a number from 0 to 1", param)
        parsed[name] = value
    return parsed


def _question(messages: list[dict[str, str]]) -> tuple[str, str]:
    questions = [m["content"] for m in messages if m["role"] == "user" and m["content"].strip()]
    if not questions:
        raise RagRequestError("with a collection, messages need a user message: the question", "messages")
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system" and m["content"].strip())
    return questions[-1], f"{DEFAULT_SYSTEM_PROMPT}\n\n{system}" if system else DEFAULT_SYSTEM_PROMPT


def rag_events(params: dict[str, Any], rag: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Retrieval and the model's first token happen here (their errors raise before any answer)."""
    query, system_prompt = _question(params["messages"])
    return rag_service.get_instance().stream_answer(
        query=query,
        system_prompt=system_prompt,
        model=params["model"],
        temperature=params["temperature"],
        max_tokens=params["max_tokens"],
        **rag,
    )


def completion(events: Iterator[tuple[str, dict[str, Any]]], completion_id: str, created: int) -> HttpResponse:
    done = next(payload for name, payload in events if name == "done")
    body = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": done["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": done["answer"], "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": done["usage"],
        "system_fingerprint": None,
        "sources": done["sources"],
        "citations": done["citations"],
    }
    return HttpResponse(dumps(body), status=200, content_type="application/json")


def stream(
    events: Iterator[tuple[str, dict[str, Any]]], completion_id: str, created: int, include_usage: bool
) -> HttpResponse:
    return sse_response(_chunks(events, completion_id, created, include_usage), error_event=openai_error_event)


def _chunks(
    events: Iterator[tuple[str, dict[str, Any]]], completion_id: str, created: int, include_usage: bool
) -> Iterator[bytes]:
    model = ""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return chat_chunk(completion_id, created, model, delta, finish, **extra)

    done: dict[str, Any] = {}
    try:
        for name, payload in events:
            if name == "sources":
                model = payload["model"]
                yield chunk({"role": "assistant", "content": ""}, sources=payload["sources"])
            elif name == "delta":
                yield chunk({"content": payload["content"]})
            elif name == "done":
                done = payload
    except ServiceError as exc:
        yield openai_error_event(exc.status_code, exc.message)
        return
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # the client went away: stop the generation
    model = done["model"]
    yield chunk({}, "stop", citations=done["citations"])
    if include_usage:
        yield usage_chunk(completion_id, created, model, done["usage"])
    yield DONE
