"""Server-Sent Events responses for streaming endpoints (generation, chat, RAG query).

    events = prefetch(llm.stream_chat(...))      # errors before the first event stay JSON 4xx/5xx
    return sse_response(json_event(...) for ... in events)

An error after the stream has started cannot change the status any more; it is sent as an
``event: error`` whose data is the contract's error body, and the stream ends.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from django.http import StreamingHttpResponse

from .exceptions import ServiceError, error_body
from .renderers import dumps

logger = logging.getLogger("mlservice.sse")

T = TypeVar("T")

DONE = b"data: [DONE]\n\n"


def json_event(payload: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + dumps(payload) + b"\n\n"


def prefetch(items: Iterable[T]) -> Iterator[T]:
    """Pull the first item now so that a failure to start raises in the view (a normal error body)."""
    iterator = iter(items)
    try:
        first = next(iterator)
    except StopIteration:
        return iter(())
    return itertools.chain([first], iterator)


def sse_response(events: Iterable[bytes], status: int = 200) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_guarded(events), status=status, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


def _guarded(events: Iterable[bytes]) -> Iterator[bytes]:
    try:
        yield from events
    except ServiceError as exc:
        yield json_event(error_body(exc.status_code, exc.message), event="error")
    except Exception:  # the status line is gone; report in-band instead of cutting the stream
        logger.exception("stream failed after it started")
        yield json_event(error_body(500, "Internal server error"), event="error")
