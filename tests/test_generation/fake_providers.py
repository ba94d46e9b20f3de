"""Small HTTP servers on 127.0.0.1 that speak the OpenAI and Anthropic wire protocols.

The official SDKs talk to them for real (JSON and SSE streaming), so the tests exercise our
provider code, the SDKs' retry logic and our error mapping without patching anything.
Behaviour is scripted per test: ``reply`` decides the answer text, ``fail_next`` queues errors.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def default_reply(body: dict[str, Any]) -> str:
    messages = body.get("messages") or []
    last = messages[-1]["content"] if messages else ""
    if isinstance(last, list):  # Anthropic content blocks
        last = " ".join(block.get("text", "") for block in last)
    return f"Echo: {last}"


class FakeProvider:
    """State shared by a fake server and the test that drives it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.reply: Callable[[dict[str, Any]], str] = default_reply
        self._failures: list[tuple[int, dict[str, Any]]] = []
        # OpenAI streams: after this many content chunks send an in-band error and end (as OpenAI
        # does when generation fails after the 200), and `stream_pause` seconds between chunks.
        self.stream_error_after: int | None = None
        self.stream_pause = 0.0
        self.events_sent = 0  # SSE events written to clients (a client that went away stops it)
        self.base_url = ""
        self.lock = threading.Lock()

    def fail_next(self, status: int, message: str = "boom", times: int = 1, error_type: str = "api_error") -> None:
        for _ in range(times):
            self._failures.append((status, {"message": message, "type": error_type}))

    def pop_failure(self) -> tuple[int, dict[str, Any]] | None:
        with self.lock:
            return self._failures.pop(0) if self._failures else None


def _prompt_tokens(body: dict[str, Any]) -> int:
    text = json.dumps(body.get("messages", [])) + str(body.get("system", ""))
    return max(1, len(text.split()))


def _chunks(text: str) -> list[str]:
    words = text.split(" ")
    return [word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words)]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProvider
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # keep pytest output quiet
        pass

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        # Tell the SDKs to retry at once so retry tests stay fast.
        if status in (429, 500, 503, 529):
            self.send_header("retry-after-ms", "10")
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for event in events:
            try:
                self.wfile.write(event)
                self.wfile.flush()
            except OSError:  # the client closed the stream
                return
            with self.fake.lock:
                self.fake.events_sent += 1

    def do_POST(self) -> None:
        body = self._body()
        with self.fake.lock:
            self.fake.requests.append({"path": self.path, "body": body})
            self.fake.headers.append({k.lower(): v for k, v in self.headers.items()})
        failure = self.fake.pop_failure()
        if failure is not None:
            status, error = failure
            self._json(status, self.error_payload(status, error))
            return
        self.handle_api(body)

    def error_payload(self, status: int, error: dict[str, Any]) -> dict[str, Any]:
        return {"error": error}

    def handle_api(self, body: dict[str, Any]) -> None:
        raise NotImplementedError


class OpenAIHandler(_Handler):
    def handle_api(self, body: dict[str, Any]) -> None:
        if self.path.endswith("/images/generations"):
            self._json(
                200,
                {
                    "created": 1,
                    "data": [{"url": "http://127.0.0.1/image.png", "revised_prompt": f"A picture of {body['prompt']}"}],
                },
            )
            return
        if not self.path.endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        text = self.fake.reply(body)
        model = f"{body['model']}-fake-0001"
        prompt_tokens, completion_tokens = _prompt_tokens(body), max(1, len(text.split()))
        if body.get("stream"):
            self._sse(self._stream(text, model, prompt_tokens, completion_tokens, body, self.fake))
            return
        self._json(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    @staticmethod
    def _stream(
        text: str, model: str, prompt_tokens: int, completion_tokens: int, body: dict, fake: FakeProvider
    ) -> Iterator[bytes]:
        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> bytes:
            payload: dict[str, Any] = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else [],
            }
            if usage is not None:
                payload["usage"] = usage
            return f"data: {json.dumps(payload)}\n\n".encode()

        yield chunk({"role": "assistant", "content": ""})
        for number, piece in enumerate(_chunks(text)):
            if number == fake.stream_error_after:
                error = {"message": "The server had an error while processing your request", "type": "server_error"}
                yield f"data: {json.dumps({'error': error})}\n\n".encode()
                return
            if number and fake.stream_pause:
                time.sleep(fake.stream_pause)
            yield chunk({"content": piece})
        yield chunk({}, finish="stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            yield chunk({}, usage=usage, choices=False)
        yield b"data: [DONE]\n\n"


class AnthropicHandler(_Handler):
    def error_payload(self, status: int, error: dict[str, Any]) -> dict[str, Any]:
        return {"type": "error", "error": error}

    def handle_api(self, body: dict[str, Any]) -> None:
        if not self.path.endswith("/v1/messages"):
            self._json(404, self.error_payload(404, {"type": "not_found_error", "message": self.path}))
            return
        text = self.fake.reply(body)
        prompt_tokens, completion_tokens = _prompt_tokens(body), max(1, len(text.split()))
        model = f"{body['model']}-20991231"
        if body.get("stream"):
            self._sse(self._stream(text, model, prompt_tokens, completion_tokens))
            return
        self._json(
            200,
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
            },
        )

    @staticmethod
    def _stream(text: str, model: str, prompt_tokens: int, completion_tokens: int) -> Iterator[bytes]:
        def event(name: str, data: dict) -> bytes:
            return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

        yield event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": prompt_tokens, "output_tokens": 1},
                },
            },
        )
        yield event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
        for piece in _chunks(text):
            yield event(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
        yield event("content_block_stop", {"type": "content_block_stop", "index": 0})
        yield event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": completion_tokens},
            },
        )
        yield event("message_stop", {"type": "message_stop"})


class _Server(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a burst of 64 calls (benchmarks/concurrency.py) then
    # overflows it and an SDK call fails with "Connection error", the fake's fault, not ours.
    request_queue_size = 256


@contextmanager
def serve(handler: type[_Handler]) -> Iterator[FakeProvider]:
    fake = FakeProvider()
    bound = type(handler.__name__, (handler,), {"fake": fake})
    server = _Server(("127.0.0.1", 0), bound)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
