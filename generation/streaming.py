"""Turn a stream of ChatDelta items into our Server-Sent Events (used by generation, chat, analysis).

Wire format (``text/event-stream``):
    event: delta   data: {"content": "<text piece>"}        one per piece, in order
    event: done    data: <the endpoint's JSON body>          the same body a non-streaming call gets
    data: [DONE]
An error after the first event is sent as ``event: error`` with the contract's error body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

from mlservice.api.sse import DONE, json_event, prefetch, sse_response
from services.llm.base import ChatDelta


def stream_response(
    deltas: Iterable[ChatDelta], final_body: Callable[[str, ChatDelta], dict[str, Any]]
) -> StreamingHttpResponse:
    """``final_body(full_text, last_delta)`` builds the ``done`` event from the collected text."""
    return sse_response(_events(prefetch(deltas), final_body))


def _events(deltas: Iterator[ChatDelta], final_body: Callable[[str, ChatDelta], dict[str, Any]]) -> Iterator[bytes]:
    pieces: list[str] = []
    last = ChatDelta(done=True)
    for delta in deltas:
        if delta.done:
            last = delta
            continue
        if delta.content:
            pieces.append(delta.content)
            yield json_event({"content": delta.content}, event="delta")
    yield json_event(final_body("".join(pieces), last), event="done")
    yield DONE
