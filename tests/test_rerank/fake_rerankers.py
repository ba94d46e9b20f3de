"""A small real HTTP server on 127.0.0.1 that speaks one reranking API: TEI, Infinity, Cohere v2,
Jina or Voyage, each at its own path and with its own request and response shapes.

Scores are a deterministic function of (query, document): the share of the query's words found in
the document, so tests can check the order. ``fail_next`` queues a status (with the API's error
body) or ``"hang"`` (no answer until the client times out); every request is recorded.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.test_embeddings.fake_openai import Recorded

PATHS = {"tei": "/rerank", "infinity": "/rerank", "cohere": "/v2/rerank", "jina": "/v1/rerank", "voyage": "/v1/rerank"}
_WORD = re.compile(r"\w+")


def overlap_score(query: str, document: str) -> float:
    wanted = set(_WORD.findall(query.lower()))
    found = set(_WORD.findall(document.lower()))
    return round(len(wanted & found) / max(1, len(wanted)), 6)


@dataclass
class FakeReranker:
    api: str
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    max_batch: int = 1000

    def fail_next(self, status: int | str, message: str = "boom") -> None:
        self.script.append((status, message))

    def answer(self, body: dict[str, Any]) -> tuple[int, Any]:
        if self.script:
            status, message = self.script.popleft()
            if status == "hang":
                time.sleep(3)
                status = 500
            return int(status), self.error_body(message)
        documents = body["texts"] if self.api == "tei" else body["documents"]
        if len(documents) > self.max_batch:  # TEI's --max-client-batch-size
            return 413, self.error_body(f"batch size {len(documents)} > maximum allowed batch size {self.max_batch}")
        scored = [(index, overlap_score(body["query"], text)) for index, text in enumerate(documents)]
        scored.sort(key=lambda pair: -pair[1])
        tokens = sum(len(text.split()) for text in documents) + len(body["query"].split())
        if self.api == "tei":
            return 200, [{"index": index, "score": score} for index, score in scored]
        results = [{"index": index, "relevance_score": score} for index, score in scored]
        if self.api == "cohere":
            meta = {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}
            return 200, {"id": "fake-id", "results": results, "meta": meta}
        if self.api == "voyage":
            return 200, {"object": "list", "data": results, "model": body["model"], "usage": {"total_tokens": tokens}}
        model = body.get("model") or "fake-infinity-model"
        return 200, {"model": model, "results": results, "usage": {"total_tokens": tokens}}

    def error_body(self, message: str) -> Any:
        if self.api == "tei":
            return {"error": message, "error_type": "validation"}
        if self.api == "voyage":
            return {"detail": message}
        if self.api == "jina":
            return {"detail": message}
        return {"message": message}


def start_fake_reranker(api: str) -> tuple[FakeReranker, ThreadingHTTPServer]:
    fake = FakeReranker(api=api)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            if self.path != PATHS[api]:
                status, payload = 404, fake.error_body("not found")
            else:
                status, payload = fake.answer(body)
            raw = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except OSError:
                pass  # the client gave up (timeout tests)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    return fake, server
