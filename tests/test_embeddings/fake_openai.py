"""A small real HTTP server on 127.0.0.1 that speaks OpenAI's ``POST /v1/embeddings``.

Vectors are deterministic functions of (text, model, dimensions), so tests can check values.
``script`` queues canned answers (status, body, headers) served before normal ones, to exercise
retries and error mapping; every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

DEFAULT_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


def fake_vector(text: str, model: str, dimensions: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(f"{model}|{text}".encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dimensions).astype(np.float32)
    return vector / np.linalg.norm(vector)


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeOpenAI:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    script: deque = field(default_factory=deque)

    def fail_next(self, status: int, message: str = "boom", headers: dict[str, str] | None = None) -> None:
        body = {"error": {"message": message, "type": "test_error", "param": None, "code": None}}
        self.script.append((status, body, headers or {}))

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.script:
            return self.script.popleft()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        model = body["model"]
        dimensions = body.get("dimensions") or DEFAULT_DIMENSIONS.get(model, 768)
        data = [
            {"object": "embedding", "index": index, "embedding": fake_vector(text, model, dimensions).tolist()}
            for index, text in enumerate(inputs)
        ]
        tokens = sum(len(text.split()) for text in inputs)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        # Shuffled order, as a server may do: clients must sort by index.
        return 200, {"object": "list", "data": data[::-1], "model": model, "usage": usage}, {}


def start_fake_openai() -> tuple[FakeOpenAI, ThreadingHTTPServer]:
    fake = FakeOpenAI()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.path != "/v1/embeddings":
                status, payload, headers = 404, {"error": {"message": "not found"}}, {}
            else:
                status, payload, headers = fake.answer(body)
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    return fake, server
