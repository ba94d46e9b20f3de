"""The packaged local LLM (Qwen2.5-Coder-0.5B, llama.cpp via xllamacpp) through the HTTP API, no
API key: decode speed of /v1/chat/completions, and answer quality of /rag/query on SciFact.

    .venv/bin/python benchmarks/local_llm.py [--rounds 3] [--max-tokens 64] [--no-rag] [--queries 20]
        [--context-limit 3] [--answer-tokens 128]

Starts our server as production runs it (granian, 1 worker, production settings, embedded store
in a temp folder, no OPENAI/ANTHROPIC key, RAG_ANSWER_MODE=llm, DEFAULT_TEMPERATURE=0,
LOCAL_LLM_MAX_TOKENS=--answer-tokens) and warms the model with one request.

1. Speed: for --rounds rounds, alternating which goes first, the same ~40-token question asking for
   an explanation (temperature 0, max_tokens --max-tokens) streamed (time to the first content
   token, decode tokens/s = (tokens - 1) / (last - first token), tokens from the usage chunk of
   ``stream_options.include_usage``, else the content chunks) and non-streamed (completion_tokens
   / wall time). Each request starts with its own number, so llama.cpp's prompt cache cannot skip
   reading the prompt; prompt tokens/s is estimated as prompt_tokens / time to the first token
   (HTTP and the first decode step included: a lower bound). Baseline in the same run: streamed
   against non-streamed. Also the server's RSS (all its processes) and its CPU seconds per
   generated token over the measured rounds (prompt reading included).
2. RAG answers: indexes the gold abstracts of the first --queries queries of SciFact's
   qrels/test.tsv plus 200 other abstracts (fixed sample) through /rag/index/batch, then POSTs each
   claim to /rag/query (hybrid, the contract's minScore 0.5). Reports the share of answers the
   server abstained on (no chunk supported one, no model call) and that the model declined
   ("do not know"); among the answered, the share with at least one citation the server read (the
   response's ``citations``), and the share whose cited sources include a gold document;
   also how often the model copies the context's "[Source n: name]" header instead of writing [n].
   Baseline in the same run: retrieval alone, /rag/search with minScore 0: the share of queries
   whose top-1 (and any of the top --context-limit) source is gold.
Do not quote the figures from a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
from httpx_sse import EventSource

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROOT, django_server, server_cpu_seconds, server_rss_mb
from benchmarks.retrieval import BATCH, load_scifact

QUESTION = (
    "Explain in a few plain sentences how a hash table stores its keys, what happens when two keys "
    "land in the same bucket, and why a lookup usually takes about the same time as the table grows."
)
OTHER_ABSTRACTS = 200
TIMEOUT = 300.0
_SOURCE_HEADER = re.compile(r"\[Source \d+")  # the context's "[Source n: name]" copied instead of [n]
_DECLINED = re.compile(r"(do not|don't|cannot|can't) (know|be answered|answer)|not (contain|provide|mention)", re.I)


def _messages(number: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Request {number}. {QUESTION}"}]


def _streamed(client: httpx.Client, number: int, max_tokens: int) -> dict[str, float]:
    body = {
        "messages": _messages(number),
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0,
        "max_tokens": max_tokens,
    }
    started = time.perf_counter()
    times: list[float] = []
    usage: dict = {}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for event in EventSource(response).iter_sse():
            if event.data == "[DONE]":
                break
            chunk = json.loads(event.data)
            if "error" in chunk:
                raise RuntimeError(event.data)
            usage = chunk.get("usage") or usage
            if any(choice["delta"].get("content") for choice in chunk.get("choices", [])):
                times.append(time.perf_counter() - started)
    tokens = usage.get("completion_tokens") or len(times)
    return {
        "first": times[0],
        "tokens": tokens,
        "decode": (tokens - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan"),
        "prompt_tokens": usage.get("prompt_tokens") or float("nan"),
    }


def _plain(client: httpx.Client, number: int, max_tokens: int) -> dict[str, float]:
    body = {"messages": _messages(number), "temperature": 0, "max_tokens": max_tokens}
    started = time.perf_counter()
    response = client.post("/v1/chat/completions", json=body)
    wall = time.perf_counter() - started
    response.raise_for_status()
    tokens = response.json()["usage"]["completion_tokens"]
    return {"wall": wall, "tokens": tokens, "rate": tokens / wall}


def run_speed(client: httpx.Client, port: int, rounds: int, max_tokens: int) -> None:
    _plain(client, 0, max_tokens)  # loads the model and warms llama.cpp
    streamed: list[dict[str, float]] = []
    plain: list[dict[str, float]] = []
    cpu = server_cpu_seconds(port)
    for number in range(1, rounds + 1):
        order = [_streamed, _plain] if number % 2 else [_plain, _streamed]
        for call in order:
            (streamed if call is _streamed else plain).append(call(client, 2 * number + (call is _plain), max_tokens))
        print(f"  round {number}/{rounds}: {streamed[-1]['decode']:.1f} tok/s streamed, {plain[-1]['rate']:.1f} plain")
    cpu = server_cpu_seconds(port) - cpu
    generated = sum(r["tokens"] for r in streamed) + sum(r["tokens"] for r in plain)

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    prompt_rate = median([{"r": r["prompt_tokens"] / r["first"]} for r in streamed], "r")
    print(f"\n/v1/chat/completions, local LLM, max_tokens {max_tokens}, temperature 0, {rounds} rounds (medians)")
    print(f"  streamed: first token        {median(streamed, 'first') * 1000:8.0f} ms")
    print(f"  streamed: completion tokens  {median(streamed, 'tokens'):8.0f}")
    print(f"  streamed: decode             {median(streamed, 'decode'):8.1f} tokens/s  (tokens-1)/(last-first)")
    print(
        f"  streamed: prompt reading     {prompt_rate:8.1f} tokens/s  "
        f"({median(streamed, 'prompt_tokens'):.0f} prompt tokens / first token)"
    )
    print(
        f"  plain: full answer           {median(plain, 'wall') * 1000:8.0f} ms ({median(plain, 'tokens'):.0f} tokens)"
    )
    print(f"  plain: end to end            {median(plain, 'rate'):8.1f} tokens/s  (same-run baseline)")
    print(f"  server CPU per token         {cpu / generated * 1000:8.1f} ms  ({cpu:.1f} CPU-s, {generated} tokens)")
    print(f"  server RSS                   {server_rss_mb(port):8.0f} MB (all its processes)")


def run_rag(client: httpx.Client, port: int, queries_count: int, context_limit: int) -> None:
    corpus, queries, qrels = load_scifact()
    picked = list(qrels)[:queries_count]
    gold = {doc for query_id in picked for doc in qrels[query_id]}
    others = [doc for doc in corpus if doc["_id"] not in gold]
    docs = [doc for doc in corpus if doc["_id"] in gold] + random.Random(0).sample(others, OTHER_ABSTRACTS)
    for start in range(0, len(docs), BATCH):
        documents = [
            {
                "content": f"{doc['title']}\n{doc['text']}".strip(),
                "source": doc["_id"],
                "documentId": doc["_id"],
                "sourceType": "abstract",
            }
            for doc in docs[start : start + BATCH]
        ]
        client.post("/rag/index/batch", json={"collection": "scifact", "documents": documents}).raise_for_status()
    print(f"\nSciFact: {len(docs)} abstracts indexed ({len(gold)} gold), {len(picked)} claims to /rag/query")
    rows = []
    for n, query_id in enumerate(picked, 1):
        relevant = qrels[query_id]
        search = {"query": queries[query_id], "collection": "scifact", "limit": context_limit, "minScore": 0}
        hits = client.post("/rag/search", json=search).raise_for_status().json()["results"]
        started = time.perf_counter()
        body = {"query": queries[query_id], "collection": "scifact", "contextLimit": context_limit}
        answer = client.post("/rag/query", json=body).raise_for_status().json()
        seconds = time.perf_counter() - started
        sources = answer["sources"]
        # The citations the server read from the answer (services/rag_service.py), in range by construction.
        cited = {citation["index"] for citation in answer["citations"]}
        row = {
            "abstained": answer["answerType"] != "generative",
            "declined": answer["answerType"] == "generative" and bool(_DECLINED.search(answer["answer"])),
            "cited": bool(cited),
            "source_header": bool(_SOURCE_HEADER.search(answer["answer"])),
            "cited_gold": any(sources[i - 1]["source"] in relevant for i in cited),
            "top1_gold": bool(hits) and hits[0]["source"] in relevant,
            "topk_gold": any(hit["source"] in relevant for hit in hits),
            "seconds": seconds,
        }
        rows.append(row)
        state = "abstained" if row["abstained"] else f"cited {sorted(cited)} gold={row['cited_gold']}"
        print(f"  {n}/{len(picked)} {seconds:5.1f} s  {state}  {answer['answer'][:70]!r}")

    def share(key: str, among: list[dict]) -> str:
        return (
            f"{statistics.fmean(r[key] for r in among):.2f} ({sum(r[key] for r in among)}/{len(among)})"
            if among
            else "n/a"
        )

    answered = [r for r in rows if not r["abstained"]]
    with_citation = [r for r in answered if r["cited"]]
    print(f"\n/rag/query with the local LLM, {len(rows)} SciFact claims, contextLimit {context_limit}, minScore 0.5")
    print(f"  abstained (server, no model call)     {share('abstained', rows)}")
    print(f"  declined by the model (of answered)   {share('declined', answered)}")
    print(f"  >= 1 [n] citation (of answered)       {share('cited', answered)}")
    print(f"  writes [Source n: ...] (of answered)  {share('source_header', answered)}")
    print(f"  cited a gold doc (of cited)           {share('cited_gold', with_citation)}")
    print(f"  cited a gold doc (of answered)        {share('cited_gold', answered)}")
    print(f"  baseline, retrieval alone: top-1 gold {share('top1_gold', rows)}")
    print(f"  baseline, retrieval alone: top-{context_limit} gold {share('topk_gold', rows)}")
    print(f"  /rag/query time                       {statistics.median(r['seconds'] for r in rows):.1f} s (median)")
    print(f"  server RSS                            {server_rss_mb(port):.0f} MB (all its processes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rag", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--context-limit", type=int, default=3)
    parser.add_argument("--answer-tokens", type=int, default=128, help="LOCAL_LLM_MAX_TOKENS for the RAG answers")
    args = parser.parse_args()
    env = {
        "OPENAI_API_KEY": "",
        "ANTHROPIC_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "RAG_ANSWER_MODE": "llm",
        "DEFAULT_TEMPERATURE": "0",  # RAG answers too: the same claims give the same answers
        "RAG_VECTOR_STORE": "embedded",
        "LOCAL_LLM_MAX_TOKENS": str(max(args.answer_tokens, args.max_tokens)),
        "ACCESS_LOG": "false",
    }
    models = ROOT / "var" / "models"
    if models.is_dir():  # the joined, verified GGUF and the exported ONNX model, as a deployment keeps them
        env.update(LOCAL_LLM_MODELS_DIR=str(models), EMBEDDING_MODELS_DIR=str(models))
    with django_server("granian", workers=1, **env) as base, httpx.Client(base_url=base, timeout=TIMEOUT) as client:
        port = urlparse(base).port
        run_speed(client, port, args.rounds, args.max_tokens)
        if args.rag:
            run_rag(client, port, args.queries, args.context_limit)


if __name__ == "__main__":
    main()
