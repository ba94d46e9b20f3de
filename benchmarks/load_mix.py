"""Loopback load on a mix of endpoints: every answer must be 2xx; prints req/s and latency percentiles.

Usage: .venv/bin/python benchmarks/load_mix.py [--seconds 60] [--connections 64]

The service runs with production settings on granian (2 workers), its embedded defaults (SQLite,
local vector store, local models) and request logging on. One document is indexed first so that
searches have something to find. wrk (1 thread) cycles through the mix below; "{n}" in a body
becomes a request counter, so texts are unique and the embedding cache does not flatter the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import django_server

MIX: list[tuple[str, str, dict | None]] = [
    ("GET", "/health", None),
    (
        "POST",
        "/complexity/estimate",
        {"title": "Refactor auth", "description": "Major security overhaul", "issue_type": "refactor"},
    ),
    (
        "POST",
        "/complexity/analyze",
        {"lines_added": 120, "lines_removed": 30, "files_changed": 3, "pre_complexity_score": 2},
    ),
    ("GET", "/complexity/scale", None),
    ("POST", "/embeddings/generate", {"text": "How do I reset my password? (request {n})"}),
    ("POST", "/embeddings/batch", {"texts": ["first text {n}", "second text {n}", "third {n}", "fourth {n}"]}),
    ("POST", "/rag/search", {"query": "password reset email {n}", "limit": 3, "minScore": 0.1}),
    ("POST", "/analysis/sentiment", {"text": "The new release {n} is fast and reliable. I love it."}),
    ("POST", "/analysis/keywords", {"text": "Vector databases store embeddings for semantic search {n}."}),
    ("GET", "/transcription/formats", None),
    ("POST", "/transcription/estimate-cost", {"duration_seconds": 90}),
]

SEED_DOCUMENT = {
    "content": "To reset your password, open Settings, choose Security and click 'Send reset email'. "
    "The email contains a link that stays valid for one hour.",
    "source": "help-center/password.md",
}

_LUA = """
local requests = {}
%(entries)s
local counter = 0
request = function()
  counter = counter + 1
  local r = requests[(counter %% #requests) + 1]
  -- "{n}" makes texts unique, so model endpoints do real work instead of hitting the cache.
  local body = r[3] and string.gsub(r[3], "{n}", tostring(counter)) or nil
  return wrk.format(r[1], r[2], {["Content-Type"] = "application/json"}, body)
end
"""


def lua_script(mix: list[tuple[str, str, dict | None]]) -> str:
    entries = []
    for index, (method, path, body) in enumerate(mix, start=1):
        payload = json.dumps(json.dumps(body)) if body is not None else "nil"
        entries.append(f'requests[{index}] = {{"{method}", "{path}", {payload}}}')
    return _LUA % {"entries": "\n".join(entries)}


def check_mix(base: str) -> None:
    """Every request of the mix must succeed on its own before the load starts."""
    with httpx.Client(base_url=base, timeout=120) as client:
        for method, path, body in MIX:
            payload = json.loads(json.dumps(body).replace("{n}", "0")) if body is not None else None
            response = client.request(method, path, json=payload)
            if response.status_code >= 300:
                raise SystemExit(f"{method} {path} -> {response.status_code}: {response.text[:300]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    with django_server("granian", workers=2) as base:
        httpx.post(f"{base}/rag/index", json=SEED_DOCUMENT, timeout=120).raise_for_status()
        check_mix(base)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(lua_script(MIX))
        try:
            out = subprocess.run(
                [
                    "wrk",
                    "-t1",
                    f"-c{args.connections}",
                    f"-d{args.seconds}s",
                    "--timeout",
                    "30s",
                    "--latency",
                    "-s",
                    script.name,
                    base,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        finally:
            os.unlink(script.name)
    print(out)
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    print(
        f"mix of {len(MIX)} endpoints, {args.connections} connections, {args.seconds}s: {total} requests, "
        f"{non_2xx} non-2xx, {socket_errors} socket errors"
    )
    return 0 if non_2xx == 0 and socket_errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
