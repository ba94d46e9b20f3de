"""Server-Sent Events responses for streaming endpoints (generation, chat, RAG query).

    events = prefetch(llm.stream_chat(...))      # errors before the first event stay JSON 4xx/5xx
    return sse_response(json_event(...) for ... in events)

An error after the stream has started cannot change the status any more; it is sent as an
``event: error`` whose data is the contract's error body, and the stream ends. So does a stream
that runs past ``SERVER_STREAM_TIMEOUT_SECONDS`` (a 504 error event).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.http import StreamingHttpResponse

from mlservice.core.errors import ServiceError

from .exceptions import error_body
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


def contract_error_event(status: int, message: str) -> bytes:
    return json_event(error_body(status, message), event="error")


def sse_response(
    events: Iterable[bytes], status: int = 200, error_event: Callable[[int, str], bytes] = contract_error_event
) -> StreamingHttpResponse:
    """``error_event(status, message)`` writes an in-band failure (the contract's by default)."""
    response = StreamingHttpResponse(_guarded(events, error_event), status=status, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


def _guarded(events: Iterable[bytes], error_event: Callable[[int, str], bytes]) -> Iterator[bytes]:
    # A stream may not hold its server thread (and a model slot) without bound: past the deadline
    # it ends with an error event; closing `events` stops the generation behind it.
    limit = settings.SERVER_STREAM_TIMEOUT_SECONDS
    deadline = time.monotonic() + limit
    iterator = iter(events)
    try:
        for event in iterator:
            yield event
            if time.monotonic() > deadline:
                logger.warning("stream stopped after %.0f s (SERVER_STREAM_TIMEOUT_SECONDS)", limit)
                yield error_event(504, f"The stream ran longer than SERVER_STREAM_TIMEOUT_SECONDS ({limit:g} s)")
                return
    except ServiceError as exc:
        yield error_event(exc.status_code, exc.message)
    except Exception:  # the status line is gone; report in-band instead of cutting the stream
        logger.exception("stream failed after it started")
        yield error_event(500, "Internal server error")
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # also when the client went away (the server closes this generator)
