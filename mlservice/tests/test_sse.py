"""The SSE helper (mlservice/api/sse.py): in-band errors, the stream deadline, closing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from django.test import override_settings

from mlservice.api.sse import json_event, sse_response
from mlservice.core.errors import UpstreamError


def _events(closed: list[bool], fail_at: int | None = None, pause: float = 0.0) -> Iterator[bytes]:
    try:
        for number in range(1000):
            if number == fail_at:
                raise UpstreamError("The provider failed")
            time.sleep(pause)
            yield json_event({"n": number}, event="delta")
    finally:
        closed.append(True)


def _read(events: Iterator[bytes], **kwargs) -> list[bytes]:
    response = sse_response(events, **kwargs)
    try:
        return list(response.streaming_content)
    finally:
        response.close()


def test_an_error_after_the_start_is_an_error_event_and_ends_the_stream() -> None:
    closed: list[bool] = []
    chunks = _read(_events(closed, fail_at=2))
    assert len(chunks) == 3 and chunks[-1].startswith(b"event: error\ndata: ")
    assert json.loads(chunks[-1].split(b"data: ", 1)[1]) == {
        "success": False,
        "error": "The provider failed",
        "statusCode": 502,
    }
    assert closed == [True]


@override_settings(SERVER_STREAM_TIMEOUT_SECONDS=0.2)
def test_a_stream_past_its_deadline_ends_with_a_504_event_and_is_closed() -> None:
    closed: list[bool] = []
    started = time.perf_counter()
    chunks = _read(_events(closed, pause=0.05))
    assert time.perf_counter() - started < 1.0 and 3 <= len(chunks) < 10
    error = json.loads(chunks[-1].split(b"data: ", 1)[1])
    assert error["statusCode"] == 504 and "SERVER_STREAM_TIMEOUT_SECONDS" in error["error"]
    assert closed == [True]  # the generator behind it was closed: its generation stops


def test_closing_the_response_early_closes_the_events() -> None:
    closed: list[bool] = []
    response = sse_response(_events(closed))
    content = iter(response.streaming_content)
    next(content)
    response.close()  # what the server does when the client goes away
    assert closed == [True]


def test_a_custom_error_event_shape() -> None:
    chunks = _read(_events([], fail_at=0), error_event=lambda status, message: f"data: {status} {message}\n\n".encode())
    assert chunks == [b"data: 502 The provider failed\n\n"]
