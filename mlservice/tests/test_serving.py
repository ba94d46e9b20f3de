"""The serving model (mlservice/serving.py): bodies read with deadlines on the event loop, bounded
thread pools, probes on their own threads, fast 503 when full; driven through the ASGI interface."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest
from django.test import override_settings

from mlservice import serving
from mlservice.serving import ServingLimits, ThreadPoolWSGI, clear_route_limits, limit_routes, serve_inline


def _echo_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    headers = sorted(key for key in environ if key.startswith("HTTP_"))
    payload = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"],
        "body": body.decode(),
        "headers": headers,
        "contentType": environ.get("CONTENT_TYPE"),
        "thread": threading.current_thread().name,
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(payload).encode()]


async def _call(
    app: ThreadPoolWSGI, path: str, *, body_parts: list[bytes] | None = None, headers: list[tuple[bytes, bytes]] = (),
    delay: float = 0.0, method: str = "POST",
) -> tuple[int, dict[bytes, bytes], bytes]:  # fmt: skip
    parts = list(body_parts or [b""])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not parts:
            await asyncio.sleep(3600)
        if delay:
            await asyncio.sleep(delay)
        chunk = parts.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(parts)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"a=1",
        "headers": list(headers),
        "server": ("testserver", 80),
        "client": ("10.0.0.1", 5555),
        "scheme": "http",
        "http_version": "1.1",
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def test_request_reaches_the_wsgi_app_with_its_body_path_and_headers() -> None:
    app = ThreadPoolWSGI(_echo_app, ServingLimits(threads=2))
    status, _, body = asyncio.run(
        _call(
            app,
            "/rag/search",
            body_parts=[b'{"q":', b' "x"}'],
            headers=[(b"content-type", b"application/json"), (b"x-api-key", b"k1"), (b"x_api_key", b"spoof")],
        )
    )
    echoed = json.loads(body)
    assert status == 200
    assert (echoed["method"], echoed["path"], echoed["query"], echoed["body"]) == (
        "POST",
        "/rag/search",
        "a=1",
        '{"q": "x"}',
    )
    assert echoed["contentType"] == "application/json"
    # The underscore spelling is dropped: it must not authenticate like X-API-Key.
    assert echoed["headers"] == ["HTTP_X_API_KEY"]
    assert echoed["thread"].startswith("api")


def test_a_slow_body_gets_408_without_taking_a_thread() -> None:
    calls: list[str] = []

    def app_that_counts(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    app = ThreadPoolWSGI(app_that_counts, ServingLimits(threads=1, body_timeout=0.3, body_idle_timeout=0.2))
    started = time.perf_counter()
    status, headers, body = asyncio.run(_call(app, "/x", body_parts=[b"a"] * 100, delay=0.1))
    assert headers[b"connection"] == b"close"
    assert status == 408 and time.perf_counter() - started < 1.0
    assert json.loads(body) == {"success": False, "error": "Request body was not received in time", "statusCode": 408}
    assert calls == []


def test_a_body_that_stops_coming_gets_408_after_the_idle_timeout_not_the_whole_deadline() -> None:
    app = ThreadPoolWSGI(_echo_app, ServingLimits(threads=1, body_timeout=30.0, body_idle_timeout=0.2))
    chunks = [b"a", b"b"]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if not chunks:
            await asyncio.sleep(3600)  # the client stopped sending in the middle of its body
        return {"type": "http.request", "body": chunks.pop(0), "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/x", "query_string": b"", "headers": []}
    started = time.perf_counter()
    asyncio.run(app(scope, receive, send))
    waited = time.perf_counter() - started
    assert sent[0]["status"] == 408 and 0.15 < waited < 2.0
    assert json.loads(sent[1]["body"])["statusCode"] == 408


def test_a_declared_or_actual_body_over_the_limit_is_413() -> None:
    app = ThreadPoolWSGI(_echo_app, ServingLimits(threads=1, max_body_bytes=10))
    status, _, body = asyncio.run(_call(app, "/x", headers=[(b"content-length", b"999999")]))
    assert status == 413 and json.loads(body)["error"] == "Request body is too large"
    status, _, _ = asyncio.run(_call(app, "/x", body_parts=[b"123456", b"789012"]))
    assert status == 413


def test_when_full_it_answers_503_at_once_and_probes_still_answer() -> None:
    release = threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] != "/health":
            release.wait(5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    app = ThreadPoolWSGI(slow_app, ServingLimits(threads=2, queue=1, retry_after=3))

    async def scenario() -> tuple[list[Any], tuple[int, dict, bytes], float, tuple[int, dict, bytes], float]:
        busy = [asyncio.create_task(_call(app, f"/slow{i}")) for i in range(3)]
        while app.in_progress() < 3:
            await asyncio.sleep(0.005)
        t0 = time.perf_counter()
        refused = await _call(app, "/one-too-many")
        refused_after = time.perf_counter() - t0
        t0 = time.perf_counter()
        probe = await _call(app, "/health", method="GET")
        probe_after = time.perf_counter() - t0
        release.set()
        return await asyncio.gather(*busy), refused, refused_after, probe, probe_after

    done, refused, refused_after, probe, probe_after = asyncio.run(scenario())
    assert [status for status, _, _ in done] == [200, 200, 200]
    assert refused[0] == 503 and refused[1][b"retry-after"] == b"3" and refused_after < 0.1
    assert json.loads(refused[2])["statusCode"] == 503
    assert probe[0] == 200 and probe[2] == b"/health" and probe_after < 0.5
    assert app.in_progress() == 0


def test_a_model_lane_refuses_at_the_front_once_its_routes_hold_their_limit() -> None:
    release = threading.Event()
    bodies_read: list[str] = []

    def slow_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        bodies_read.append(environ["PATH_INFO"])
        if environ["PATH_INFO"].endswith("/model"):
            release.wait(5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    app = ThreadPoolWSGI(slow_app, ServingLimits(threads=8, queue=8))
    limit_routes("test-model", ["/model", "/api/v1/model"], limit=2, retry_after=7)

    async def scenario() -> tuple[list[Any], tuple[int, dict, bytes], float, tuple[int, dict, bytes]]:
        busy = [asyncio.create_task(_call(app, path)) for path in ("/model", "/api/v1/model")]
        while app.in_progress() < 2:
            await asyncio.sleep(0.005)
        t0 = time.perf_counter()
        refused = await _call(app, "/model", body_parts=[b"never read"])
        refused_after = time.perf_counter() - t0
        other = await _call(app, "/elsewhere")  # other routes keep their threads
        release.set()
        return await asyncio.gather(*busy), refused, refused_after, other

    try:
        done, refused, refused_after, other = asyncio.run(scenario())
        assert [status for status, _, _ in done] == [200, 200]
        assert refused[0] == 503 and refused[1][b"retry-after"] == b"7" and refused_after < 0.1
        error = json.loads(refused[2])
        assert error["statusCode"] == 503 and "test-model model is busy (2 requests" in error["error"]
        assert other[0] == 200 and other[2] == b"/elsewhere"
        assert sorted(bodies_read) == ["/api/v1/model", "/elsewhere", "/model"]  # the refused one never ran
        assert app.in_progress() == 0
        # The lane is free again once its requests are done.
        release.clear()
        release.set()
        again = asyncio.run(_call(app, "/model"))
        assert again[0] == 200
    finally:
        clear_route_limits()


def test_a_lane_with_a_byte_budget_refuses_large_bodies_but_always_admits_one_request() -> None:
    release = threading.Event()

    def slow_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        release.wait(5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(environ["wsgi.input"].read())).encode()]

    app = ThreadPoolWSGI(slow_app, ServingLimits(threads=8, queue=8))
    limit_routes("test-model", ["/model"], limit=10, retry_after=2, max_body_bytes=100)

    def sized(size: int) -> list[tuple[bytes, bytes]]:
        return [(b"content-length", str(size).encode())]

    async def scenario() -> tuple[list[Any], int, int]:
        big = asyncio.create_task(_call(app, "/model", body_parts=[b"x" * 500], headers=sized(500)))
        while app.in_progress() < 1:
            await asyncio.sleep(0.005)
        refused, _, _ = await _call(app, "/model", body_parts=[b"y" * 10], headers=sized(10))
        release.set()
        first = await big
        small = [_call(app, "/model", body_parts=[b"z" * 30], headers=sized(30)) for _ in range(3)]
        return [first, *await asyncio.gather(*small)], refused, app.in_progress()

    try:
        answers, refused, left = asyncio.run(scenario())
        # The 500-byte request was alone, so it passed; the next one found the budget spent.
        assert refused == 503
        assert [(status, body) for status, _, body in answers] == [
            (200, b"500"),
            (200, b"30"),
            (200, b"30"),
            (200, b"30"),
        ]
        assert left == 0
    finally:
        clear_route_limits()


def test_async_to_sync_in_an_api_thread_reuses_one_running_loop_and_runs_the_orm_side_at_home() -> None:
    from asgiref.sync import async_to_sync, sync_to_async

    def where() -> str:
        return threading.current_thread().name

    async def both() -> tuple[str, int, str]:
        return where(), id(asyncio.get_running_loop()), await sync_to_async(where)()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        calls = [async_to_sync(both)() for _ in range(3)]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"api": where(), "calls": calls}).encode()]

    served = ThreadPoolWSGI(app, ServingLimits(threads=1))
    answers = [json.loads(asyncio.run(_call(served, "/x"))[2]) for _ in range(2)]
    calls = [call for answer in answers for call in answer["calls"]]
    api_thread = answers[0]["api"]
    # One loop thread and one event loop for all the API thread's calls, across requests: no loop
    # is built per call (asyncio.run's cost), and the loop runs in its own thread, not the API one.
    assert {loop_thread for loop_thread, _, _ in calls} == {f"{api_thread}-loop"}
    assert len({loop for _, loop, _ in calls}) == 1
    # thread-sensitive sync_to_async (the ORM's) comes back to the API thread and its connection.
    assert {home for _, _, home in calls} == {api_thread} and answers[1]["api"] == api_thread


def test_an_exception_in_an_async_service_call_reaches_the_view_and_the_loop_keeps_serving() -> None:
    from asgiref.sync import async_to_sync

    async def fails() -> None:
        raise ValueError("bad input")

    async def works() -> str:
        return "ok"

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        try:
            async_to_sync(fails)()
        except ValueError as exc:
            caught = str(exc)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"caught": caught, "then": async_to_sync(works)()}).encode()]

    status, _, body = asyncio.run(_call(ThreadPoolWSGI(app, ServingLimits(threads=1)), "/x"))
    assert status == 200 and json.loads(body) == {"caught": "bad input", "then": "ok"}


def test_a_streaming_response_is_sent_chunk_by_chunk_and_closed() -> None:
    closed = threading.Event()

    class Streaming:
        streaming = True

        def __iter__(self) -> Any:
            yield b"data: 1\n\n"
            yield b"data: 2\n\n"
            yield b"data: [DONE]\n\n"

        def close(self) -> None:
            closed.set()

    def sse_app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return Streaming()

    app = ThreadPoolWSGI(sse_app, ServingLimits(threads=1))
    status, headers, body = asyncio.run(_call(app, "/v1/chat/completions"))
    assert status == 200 and headers[b"content-type"] == b"text/event-stream"
    assert body == b"data: 1\n\ndata: 2\n\ndata: [DONE]\n\n"
    assert closed.is_set()


def _endless_stream(produced: list[bytes], closed: threading.Event, pause: float) -> Any:
    class Endless:
        streaming = True

        def __iter__(self) -> Any:
            while True:
                time.sleep(pause)
                produced.append(b"data: x\n\n")
                yield produced[-1]

        def close(self) -> None:
            closed.set()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return Endless()

    return app


async def _stream_until(app: ThreadPoolWSGI, disconnect_after: float | None) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    parts = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if parts:
            return parts.pop(0)
        await asyncio.sleep(3600 if disconnect_after is None else disconnect_after)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/rag/query", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return sent


def test_a_client_that_disconnects_stops_the_stream_and_closes_it() -> None:
    produced: list[bytes] = []
    closed = threading.Event()
    app = ThreadPoolWSGI(_endless_stream(produced, closed, 0.01), ServingLimits(threads=1))
    started = time.perf_counter()
    sent = asyncio.run(_stream_until(app, disconnect_after=0.2))
    assert time.perf_counter() - started < 2
    assert closed.wait(2)  # the body was closed (the generation behind it stops)
    count = len(produced)
    time.sleep(0.1)
    assert len(produced) == count and 5 < count < 100  # and nothing more is produced
    assert not any(m.get("body") == b"" and not m.get("more_body") for m in sent[1:])  # no end sent to nobody
    assert app.in_progress() == 0


def test_a_stream_past_its_deadline_is_stopped_even_while_waiting_for_a_chunk() -> None:
    produced: list[bytes] = []
    closed = threading.Event()
    # Each chunk takes 0.5 s: the 0.3 s deadline falls while the pool thread waits for one.
    app = ThreadPoolWSGI(_endless_stream(produced, closed, 0.5), ServingLimits(threads=1, stream_timeout=0.3))
    started = time.perf_counter()
    sent = asyncio.run(_stream_until(app, disconnect_after=None))
    assert time.perf_counter() - started < 1.5  # the first chunk (0.5 s) plus the deadline, not forever
    assert sent[-1] == {"type": "http.response.body", "body": b""}  # the response is ended properly
    assert closed.wait(2)  # closed once the chunk in progress was done


@pytest.mark.django_db
@override_settings(ENABLE_REQUEST_LOGGING=False)  # a pool thread's row would outlive the test's transaction
def test_the_project_asgi_application_serves_the_api_and_static_files() -> None:
    from mlservice.asgi import application

    status, _, body = asyncio.run(
        _call(
            application,
            "/complexity/estimate",
            body_parts=[b'{"title": "Fix typo in README"}'],
            headers=[(b"content-type", b"application/json"), (b"host", b"testserver")],
        )
    )
    assert status == 201 and json.loads(body)["complexityName"] == "Trivial"
    status, headers, body = asyncio.run(
        _call(application, "/static/admin/css/base.css", method="GET", headers=[(b"host", b"testserver")])
    )
    assert status == 200 and headers[b"content-type"].startswith(b"text/css") and len(body) > 1000


@pytest.fixture
def inline_routes() -> Iterable[None]:
    saved = dict(serving._inline)  # the health app registers its probes at start-up
    yield
    serving._inline.clear()
    serving._inline.update(saved)


@pytest.mark.usefixtures("inline_routes")
def test_an_inline_probe_runs_on_the_event_loop_while_its_condition_holds() -> None:
    app = ThreadPoolWSGI(_echo_app, ServingLimits(threads=1))
    safe = [True]
    serve_inline(["/live"], when=lambda: safe[0])

    def thread_of(method: str = "GET") -> str:
        status, _, body = asyncio.run(_call(app, "/live", method=method))
        assert status == 200
        return str(json.loads(body)["thread"])

    assert thread_of() == threading.current_thread().name  # asyncio.run's loop runs in this thread
    assert thread_of("POST").startswith("probe")  # only GET and HEAD
    safe[0] = False
    assert thread_of().startswith("probe")


@pytest.mark.usefixtures("inline_routes")
def test_only_probe_paths_may_run_on_the_event_loop() -> None:
    with pytest.raises(ValueError, match="not a probe path"):
        serve_inline(["/embeddings/generate"])


@override_settings(HEALTH_CACHE_SECONDS=30.0)  # the test settings turn the cache off
def test_the_project_health_probe_answers_on_the_event_loop_once_its_snapshot_is_cached() -> None:
    from mlservice.asgi import application
    from services import health_service

    health_service.get_instance().forget_cached()
    scope = {"path": "/health", "method": "GET"}
    assert not serving._runs_inline(scope)  # nothing cached: the probe pool computes the snapshot
    answers = []
    for _ in range(2):
        status, _, body = asyncio.run(_call(application, "/health", method="GET", headers=[(b"host", b"testserver")]))
        assert status == 200
        answers.append(json.loads(body))
        # The second answer came from the event loop: Django's handling of /health works there
        # (no database: Django would refuse it on a thread that runs an event loop).
        assert serving._runs_inline(scope)
    assert answers[0]["services"] == answers[1]["services"] and answers[1]["status"] in ("ok", "degraded")
    assert serving._runs_inline({"path": "/live", "method": "GET"})
