"""A service's ``ChatStream`` as our Server-Sent Events (the streaming generation, chat and analysis
endpoints). HTTP-layer code shared by several apps, so it lives here rather than in one of them.

Wire format (``text/event-stream``):
    event: delta   data: {"content": "<text piece>"}        one per piece, in order
    event: done    data: <the endpoint's JSON body>          the same body a non-streaming call gets
    data: [DONE]
An error after the first event is sent as ``event: error`` with the contract's error body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.http import StreamingHttpResponse

from services.llm.base import ChatDelta
from services.llm_service import ChatStream

from .sse import DONE, json_event, prefetch, sse_response


def stream_response(stream: ChatStream) -> StreamingHttpResponse:
    """The first delta is pulled now, so a failure to start is still a plain JSON error."""
    return sse_response(_events(prefetch(stream.deltas), stream.final_body))


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
