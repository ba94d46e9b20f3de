"""Streamed RAG answers: first-token latency of POST /rag/query with ``stream: true`` against the
time to the whole non-streamed answer, same server, same questions, the local LLM behind both.

    .venv/bin/python benchmarks/rag_stream.py [--rounds 5] [--max-tokens 64] [--context-limit 3]

Starts our server (granian, 1 worker, production settings, embedded store in a temp folder, the
packaged local LLM with LOCAL_LLM_MAX_TOKENS=--max-tokens), indexes a few short documents, warms
the model with one query, then for each round asks the same question both ways, alternating which
goes first: streamed (time to the ``sources`` event, to the first ``delta``, to ``done``) and plain
JSON (time to the answer). Prints medians. Do not quote the figures from a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import httpx
from httpx_sse import connect_sse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import django_server

DOCUMENTS = [
    ("The Eiffel Tower in Paris was completed in 1889 for the World's Fair and is 330 metres tall.", "eiffel.md"),
    ("The Golden Gate Bridge in San Francisco opened in 1937; its main span is 1,280 metres long.", "golden-gate.md"),
    ("The Colosseum in Rome was finished in 80 AD under Emperor Titus and held about 50,000 people.", "colosseum.md"),
    ("Big Ben is the nickname of the great bell of the clock at the Palace of Westminster in London.", "big-ben.md"),
]
QUESTION = "When was the Eiffel Tower completed and how tall is it?"


def _streamed(client: httpx.Client, base: str, body: dict) -> dict[str, float]:
    started = time.perf_counter()
    marks: dict[str, float] = {}
    with connect_sse(client, "POST", f"{base}/rag/query", json={**body, "stream": True}) as source:
        source.response.raise_for_status()
        for event in source.iter_sse():
            now = time.perf_counter() - started
            if event.event == "sources":
                marks["sources"] = now
            elif event.event == "delta" and "first_token" not in marks:
                marks["first_token"] = now
            elif event.event == "done":
                marks["done"] = now
                marks["tokens"] = json.loads(event.data)["usage"]["completion_tokens"]
            elif event.event == "error":
                raise RuntimeError(event.data)
    return marks


def _plain(client: httpx.Client, base: str, body: dict) -> float:
    started = time.perf_counter()
    response = client.post(f"{base}/rag/query", json=body)
    response.raise_for_status()
    assert response.json()["answerType"] == "generative", response.text
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--context-limit", type=int, default=3)
    args = parser.parse_args()
    env = {
        "LOCAL_LLM_MAX_TOKENS": str(args.max_tokens),
        "DEFAULT_TEMPERATURE": "0",  # same answer both ways, so the full-answer times compare
        "RAG_ANSWER_MODE": "llm",
        "OPENAI_API_KEY": "",
        "ANTHROPIC_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "ACCESS_LOG": "false",
    }
    with django_server(workers=1, **env) as base, httpx.Client(timeout=300) as client:
        for content, source in DOCUMENTS:
            client.post(
                f"{base}/rag/index", json={"content": content, "source": source, "collection": "bench"}
            ).raise_for_status()
        body = {"query": QUESTION, "collection": "bench", "contextLimit": args.context_limit, "minScore": 0}
        _plain(client, base, body)  # loads the model and warms llama.cpp
        streamed: list[dict[str, float]] = []
        plain: list[float] = []
        for round_number in range(args.rounds):
            if round_number % 2:
                plain.append(_plain(client, base, body))
                streamed.append(_streamed(client, base, body))
            else:
                streamed.append(_streamed(client, base, body))
                plain.append(_plain(client, base, body))

    def median(key: str) -> float:
        return statistics.median(marks[key] for marks in streamed) * 1000

    print(f"/rag/query, local LLM, max {args.max_tokens} tokens, {args.context_limit} sources, {args.rounds} rounds")
    print(f"  streamed: sources event   {median('sources'):8.0f} ms (median)")
    print(f"  streamed: first token     {median('first_token'):8.0f} ms")
    tokens = statistics.median(marks["tokens"] for marks in streamed)
    print(f"  streamed: done            {median('done'):8.0f} ms ({tokens:.0f} tokens)")
    print(f"  plain JSON: full answer   {statistics.median(plain) * 1000:8.0f} ms (same-run baseline)")
    print(f"  first token / full answer {median('first_token') / (statistics.median(plain) * 1000):8.2f}")


if __name__ == "__main__":
    main()
