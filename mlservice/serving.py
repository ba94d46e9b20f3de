"""The serving model: an ASGI front that reads requests, and Django (WSGI) in bounded thread pools.

Why (README "Serving model", benchmarks/concurrency.py): Django's own ASGI handler runs every sync
view in one thread per process (asgiref's thread-sensitive executor), so one slow LLM call stops
the process, and async views measured no faster (shared/spec/serving-bench.md). Here the event
loop only does I/O: it reads the whole request body (with a deadline, so a client sending one byte
a second costs a coroutine, never a thread), then runs the Django request in a thread pool:

- ``SERVER_THREADS`` threads for the API: a thread waiting on OpenAI or Anthropic costs memory,
  not a scarce slot; CPU-bound local models are bounded separately (services/model_gate.py,
  services/embeddings/batching.py), so they cannot take all the threads either;
- a small separate pool for the probes (``/health``, ``/live``, ``/ready``, ``/metrics``), so they
  answer while every API thread is busy; the probes an app declares quick and non-blocking
  (``serve_inline``: ``/live`` always, ``/health`` while its cached snapshot is fresh) run on the
  event loop itself, with no thread hop at all (the hop was most of a probe's CPU);
- beyond ``SERVER_THREADS + SERVER_QUEUE`` requests in progress, a request is refused at once with
  503 + ``Retry-After`` in the contract's error shape, instead of waiting without bound.

It serves the guide's ``uvicorn mlservice.asgi:application --reload`` and production's granian
(``python manage.py serve``) alike.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from asgiref.sync import SyncToAsync

logger = logging.getLogger("mlservice.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

PROBE_PATHS = frozenset({"/health", "/live", "/ready", "/health/live", "/health/ready", "/metrics"})


@dataclass(frozen=True)
class ServingLimits:
    threads: int = 64
    queue: int = 256
    probe_threads: int = 2
    max_body_bytes: int = 64 * 1024 * 1024
    body_timeout: float = 60.0
    body_idle_timeout: float = 15.0
    stream_timeout: float = 310.0
    retry_after: int = 1

    @classmethod
    def from_settings(cls) -> ServingLimits:
        from django.conf import settings

        return cls(
            threads=settings.SERVER_THREADS,
            queue=settings.SERVER_QUEUE,
            probe_threads=settings.SERVER_PROBE_THREADS,
            max_body_bytes=max(
                settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
                settings.TRANSCRIPTION_MAX_UPLOAD_BYTES,
                settings.RAG_UPLOAD_MAX_REQUEST_BYTES,  # POST /rag/documents
            )
            + 65536,
            body_timeout=settings.SERVER_BODY_TIMEOUT_SECONDS,
            body_idle_timeout=settings.SERVER_BODY_IDLE_TIMEOUT_SECONDS,
            # The stream's own error event comes at SERVER_STREAM_TIMEOUT_SECONDS; this is the hard stop.
            stream_timeout=settings.SERVER_STREAM_TIMEOUT_SECONDS + 10.0,
        )


@dataclass(eq=False)
class RouteLane:
    """Requests in progress on the routes of one local model, counted where they arrive.

    The model's own queue (services/model_gate.py, the embedding batcher) refuses work only once a
    thread has parsed and validated the request; under a burst that parsing is itself the wait (200
    batches of 100 texts took 2.4 s to be refused, benchmarks/concurrency.py). A lane refuses at the
    front, before the body is read, once ``limit`` requests of those routes are in progress in this
    process: the model's slots plus its queue, so no admitted request is refused for the lane alone.
    The work a request brings grows with its body (texts to embed), so a lane may also bound the
    declared body bytes in progress (``max_body_bytes``): many short requests pass, a burst of large
    batches is refused at once. One request alone is always admitted, whatever its size.
    """

    name: str
    limit: int
    retry_after: int
    max_body_bytes: int | None = None
    in_progress: int = 0
    body_bytes: int = 0


_lanes: dict[str, RouteLane] = {}
_lanes_lock = threading.Lock()


def limit_routes(
    name: str, paths: Iterable[str], limit: int, retry_after: int, max_body_bytes: int | None = None
) -> None:
    """Count the requests in progress on ``paths`` (exact request paths) as one lane of ``limit``
    requests (and ``max_body_bytes`` of declared bodies); apps call it from ``ready()`` for the
    routes their local model serves."""
    lane = RouteLane(name, max(1, limit), retry_after, max_body_bytes)
    with _lanes_lock:
        for route in paths:
            _lanes[route] = lane


def clear_route_limits() -> None:
    with _lanes_lock:
        _lanes.clear()


# Probe paths served on the event loop, each with the condition under which that is safe.
_inline: dict[str, Callable[[], bool]] = {}


def _always() -> bool:
    return True


def serve_inline(paths: Iterable[str], when: Callable[[], bool] = _always) -> None:
    """Serve GET/HEAD requests on ``paths`` (probe paths) on the event loop, not in the probe pool,
    whenever ``when()`` is true.

    Handing a request to a thread and back cost 0.1-0.2 ms of CPU here, more than a probe's whole
    Django handling. Only for handlers that never block: no database (Django refuses the ORM on a
    thread running an event loop), no model, no upstream, no file I/O. ``when`` says when that holds
    (``/health`` recomputes its snapshot, which looks at the file system, only in the probe pool);
    while it is false the request goes to the probe pool as before. Apps call it from ``ready()``.
    """
    for route in paths:
        if route not in PROBE_PATHS:
            raise ValueError(f"{route} is not a probe path: only probes may run on the event loop")
        _inline[route] = when


class _BodyTooLarge(Exception):
    pass


class ThreadPoolWSGI:
    """ASGI application that runs a WSGI application in bounded thread pools (see module docstring)."""

    def __init__(self, wsgi_app: WSGIApp, limits: ServingLimits) -> None:
        self.wsgi_app = wsgi_app
        self.limits = limits
        self._api_pool = ThreadPoolExecutor(
            limits.threads, thread_name_prefix="api", initializer=_give_the_api_thread_a_running_loop
        )
        self._probe_pool = ThreadPoolExecutor(limits.probe_threads, thread_name_prefix="probe")
        self._in_progress = 0
        self._lock = threading.Lock()
        # Imported here, not at the top: asgi.py imports this module before Django's settings have
        # set PROMETHEUS_MULTIPROC_DIR, which prometheus_client reads when first imported.
        from mlservice import metrics

        self._in_progress_gauge = metrics.SERVER_IN_PROGRESS
        self._refusals = metrics.SERVER_REFUSALS
        self._lane_refusal = metrics.record_refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # no websockets in this API
            return
        probe = scope["path"] in PROBE_PATHS
        if probe and _runs_inline(scope):
            await self._serve(scope, receive, send, None)
            return
        if not probe and not self._admit():
            self._refusals.inc()
            await _send_error(
                send, 503, "Server is at capacity: retry shortly", {"retry-after": str(self.limits.retry_after)}
            )
            return
        lane = None if probe else _lanes.get(scope["path"])
        declared = (_content_length(scope) or 0) if lane is not None else 0
        try:
            if lane is not None and not _enter(lane, declared):
                self._lane_refusal(lane.name, "queue_full")
                await _send_error(
                    send,
                    503,
                    f"The {lane.name} model is busy ({lane.limit} requests in progress at most{_bytes_note(lane)}); "
                    f"retry after {lane.retry_after} s",
                    {"retry-after": str(lane.retry_after)},
                )
                lane = None
                return
            await self._serve(scope, receive, send, self._probe_pool if probe else self._api_pool)
        finally:
            if lane is not None:
                with _lanes_lock:
                    lane.in_progress -= 1
                    lane.body_bytes -= declared
            if not probe:
                with self._lock:
                    self._in_progress -= 1
                self._in_progress_gauge.dec()

    def in_progress(self) -> int:
        return self._in_progress

    def _admit(self) -> bool:
        with self._lock:
            if self._in_progress >= self.limits.threads + self.limits.queue:
                return False
            self._in_progress += 1
        self._in_progress_gauge.inc()
        return True

    async def _serve(self, scope: Scope, receive: Receive, send: Send, pool: ThreadPoolExecutor | None) -> None:
        """Read the body, run the app in ``pool`` (None: here, on the event loop), send the answer."""
        try:
            body = await self._read_body(scope, receive)
        except _BodyTooLarge:
            await _send_error(send, 413, "Request body is too large")
            return
        except TimeoutError:
            await _send_error(send, 408, "Request body was not received in time", {"connection": "close"})
            return
        except _ClientGone:
            return
        loop = asyncio.get_running_loop()
        environ = _environ(scope, body)
        if pool is None:
            status, headers, chunks, rest = _call_app(self.wsgi_app, environ)
            pool = self._probe_pool  # the rest of a streamed answer, should a probe ever stream
        else:
            status, headers, chunks, rest = await loop.run_in_executor(pool, _call_app, self.wsgi_app, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if rest is None:
            await send({"type": "http.response.body", "body": chunks})
            return
        # A streaming response (SSE): each chunk is produced in the pool and sent as it comes. A
        # client that disconnects, or the stream deadline, stops it: the body is closed, which
        # stops the generation behind it (services/llm/*), so no stream holds a thread unbounded.
        gone = asyncio.ensure_future(_disconnected(receive))
        deadline = loop.time() + self.limits.stream_timeout
        try:
            await send({"type": "http.response.body", "body": chunks, "more_body": True})
            while True:
                pending = loop.run_in_executor(pool, next, rest, None)
                await asyncio.wait({pending, gone}, timeout=deadline - loop.time(), return_when=asyncio.FIRST_COMPLETED)
                if not pending.done():
                    logger.info("stream stopped: %s", "client disconnected" if gone.done() else "stream deadline")
                    break
                chunk = pending.result()
                if chunk is None:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if not gone.done():
                await send({"type": "http.response.body", "body": b""})
        finally:
            gone.cancel()
            if not rest.close_after_chunk():  # else the thread producing a chunk closes it then
                await loop.run_in_executor(pool, rest.close)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _content_length(scope)
        if declared is not None and declared > self.limits.max_body_bytes:
            raise _BodyTooLarge
        parts: list[bytes] = []
        size = 0
        # One timer for the whole body, moved forward after each chunk (the idle timeout) but never
        # past the overall deadline. asyncio.timeout costs a timer handle per request, where
        # wait_for made a task per chunk; and unlike a wait_for nested in another (Python 3.11), it
        # cannot swallow the expiry when a chunk arrives just as the time is up.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_timeout
        idle = self.limits.body_idle_timeout
        async with asyncio.timeout_at(min(deadline, loop.time() + idle)) as window:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limits.max_body_bytes:
                    raise _BodyTooLarge
                parts.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(parts)
                window.reschedule(min(deadline, loop.time() + idle))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._api_pool.shutdown(wait=False, cancel_futures=True)
                self._probe_pool.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _runs_inline(scope: Scope) -> bool:
    when = _inline.get(scope["path"])
    if when is None or scope["method"] not in ("GET", "HEAD"):
        return False
    try:
        return when()
    except Exception:  # in doubt, the probe pool is always safe
        logger.exception("serve_inline condition for %s failed", scope["path"])
        return False


def _enter(lane: RouteLane, declared: int) -> bool:
    with _lanes_lock:
        if lane.in_progress >= lane.limit:
            return False
        over_bytes = lane.max_body_bytes is not None and lane.body_bytes + declared > lane.max_body_bytes
        if over_bytes and lane.in_progress > 0:
            return False
        lane.in_progress += 1
        lane.body_bytes += declared
        return True


def _bytes_note(lane: RouteLane) -> str:
    return "" if lane.max_body_bytes is None else f", {lane.max_body_bytes} bytes of request bodies"


class _ClientGone(Exception):
    pass


def _give_the_api_thread_a_running_loop() -> None:
    """Give this API thread an event loop of its own, running for the thread's lifetime in a
    companion thread, on which ``async_to_sync`` runs the views' async service calls (the guide's
    pattern).

    Left alone, asgiref starts a thread and a new event loop for every such call; inside an
    ``AsyncSingleThreadContext`` it keeps the thread but still builds and closes a loop per call
    (``asyncio.run``): 0.64 ms of CPU per short embedding request, a fifth of its cost (0.30 ms
    with the loop kept; README "Serving model"). asgiref schedules the call on a running loop when
    the calling thread names one (the thread-local that its own ``sync_to_async`` sets for nested
    calls), so the loop is made once. Thread-sensitive ``sync_to_async`` calls (the ORM) still run
    back in the API thread itself, on its database connection: the calling thread's executor
    travels with the call's context, as before.
    """
    loop = asyncio.new_event_loop()
    name = f"{threading.current_thread().name}-loop"
    threading.Thread(target=loop.run_forever, name=name, daemon=True).start()
    SyncToAsync.threadlocal.main_event_loop = loop
    SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()


async def _disconnected(receive: Receive) -> None:
    """Returns when the client has gone (the request body was read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _call_app(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes, Any]:
    """Run the WSGI app in a pool thread: status, headers, the body (or its first chunk and the rest)."""
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return _no_write

    result = app(environ, start_response)
    if not getattr(result, "streaming", False):
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started["status"], started["headers"], body, None
    iterator = iter(result)
    first = next(iterator, b"")
    return started["status"], started["headers"], first, _Closing(iterator, result)


class _Closing:
    """The rest of a streaming body, closing the WSGI result when done (Django's request_finished)."""

    def __init__(self, iterator: Any, result: Any) -> None:
        self._iterator = iterator
        self._result = result
        self._lock = threading.Lock()
        self._producing = False
        self._close_after = False

    def __iter__(self) -> _Closing:
        return self

    def __next__(self) -> bytes:
        with self._lock:
            self._producing = True
        try:
            return next(self._iterator)
        finally:
            with self._lock:
                self._producing = False
                close = self._close_after
            if close:
                self.close()

    def close_after_chunk(self) -> bool:
        """A running generator cannot be closed: if a chunk is being produced, its thread closes
        the body when the chunk is done (True); otherwise the caller closes it now (False)."""
        with self._lock:
            self._close_after = self._producing
            return self._producing

    def close(self) -> None:
        close = getattr(self._result, "close", None)
        if close is not None:
            close()


def _no_write(data: bytes) -> None:
    raise RuntimeError("the write() callable of start_response is not supported")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _environ(scope: Scope, body: bytes) -> dict[str, Any]:
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        # PEP 3333: the (percent-decoded) path as bytes decoded as latin-1.
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "CONTENT_LENGTH": str(len(body)),
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1")
        if "_" in name:
            # X_API_KEY would otherwise become HTTP_X_API_KEY, the same as X-API-Key (nginx drops them too).
            continue
        value = raw_value.decode("latin-1")
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
            continue
        if name == "content-length":
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


async def _send_error(send: Send, status: int, message: str, extra: dict[str, str] | None = None) -> None:
    body = orjson.dumps({"success": False, "error": message, "statusCode": status})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.extend((name.encode(), value.encode()) for name, value in (extra or {}).items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
