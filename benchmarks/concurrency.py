"""Concurrency: slow upstreams, local model work and probes on one instance, as `make serve` runs it.

Usage: .venv/bin/python benchmarks/concurrency.py [--quick] [--skip-baseline]

Against a fake OpenAI server on 127.0.0.1 that answers after 2 s (the SDK speaks to it for real):
1. 64 simultaneous POST /analysis/generate: wall time (goal: all within 3 s).
2. A mixed burst (16 such LLM calls + 4 embedding batches of 100 x 200-word texts + 1
   transcription of 60 s of audio) while GET /health is probed every 50 ms with a 4 s timeout
   (the gateway's): probe p50/p99/max and failures (goal: p99 < 50 ms, none fail).
3. Overload: 200 simultaneous embedding batches: each answer is a 2xx or a fast 503/429 with
   Retry-After; refusal latency, completion latency, server RSS before and at peak.
4. Embeddings, 16 concurrent clients each sending one short text per request for a few seconds:
   requests/s with dynamic batching against batching off, and that the vectors are equal.
Each scenario also runs on the serving model before issue 10 (granian WSGI, 1 blocking thread per
worker, no batching) in the same run, for the ratio; the machine is noisy, rounds alternate.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import sys
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import django_server, server_rss_mb, wrk_per_server_cpu
from tests.test_generation.fake_providers import OpenAIHandler, serve

UPSTREAM_DELAY = 2.0
WORDS = (
    "system data model request service cache vector search index query answer user team plan build test deploy "
    "review design change error value metric latency network storage stream batch token budget audio text"
).split()


def words(count: int, rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(count))


def audio_wav(seconds: float) -> bytes:
    """Speech-like test audio: tones that change pitch every 200 ms, 16 kHz mono."""
    rate = 16000
    t = np.arange(int(seconds * rate)) / rate
    pitch = 180 + 80 * np.sin(2 * np.pi * 0.7 * t) + 40 * np.sign(np.sin(2 * np.pi * 5 * t))
    signal = 0.3 * np.sin(2 * np.pi * np.cumsum(pitch) / rate) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal * 32767).astype(np.int16).tobytes())
    return buffer.getvalue()


async def generate_burst(client: httpx.AsyncClient, count: int) -> tuple[float, list[int]]:
    body = {"prompt": "Write one sentence about caching.", "maxTokens": 20}
    started = time.perf_counter()
    answers = await asyncio.gather(*(client.post("/analysis/generate", json=body) for _ in range(count)))
    return time.perf_counter() - started, [answer.status_code for answer in answers]


async def probe_health(client: httpx.AsyncClient, stop: asyncio.Event) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    while not stop.is_set():
        started = time.perf_counter()
        try:
            answer = await client.get("/health", timeout=4.0)
            if answer.status_code != 200:
                failures += 1
        except httpx.HTTPError:
            failures += 1
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)
    return latencies, failures


async def mixed_burst(client: httpx.AsyncClient, rng: random.Random, audio: bytes) -> dict[str, Any]:
    stop = asyncio.Event()
    probes = asyncio.create_task(probe_health(client, stop))
    await asyncio.sleep(0.3)
    started = time.perf_counter()
    llm = [client.post("/analysis/generate", json={"prompt": "One sentence.", "maxTokens": 20}) for _ in range(16)]
    batches = [
        client.post("/embeddings/batch", json={"texts": [words(200, rng) for _ in range(100)]}) for _ in range(4)
    ]
    transcription = client.post(
        "/transcription/transcribe", files={"file": ("speech.wav", audio, "audio/wav")}, timeout=300
    )
    answers = await asyncio.gather(*llm, *batches, transcription)
    work_seconds = time.perf_counter() - started
    stop.set()
    latencies, failures = await probes
    return {
        "work_s": work_seconds,
        "statuses": sorted({answer.status_code for answer in answers}),
        "probes": len(latencies),
        "probe_p50_ms": statistics.median(latencies),
        "probe_p99_ms": float(np.percentile(latencies, 99)),
        "probe_max_ms": max(latencies),
        "probe_failures": failures,
    }


async def overload(client: httpx.AsyncClient, rng: random.Random, port: int, count: int) -> dict[str, Any]:
    texts = [[words(200, rng) for _ in range(100)] for _ in range(count)]
    rss_before = server_rss_mb(port)
    peak = rss_before
    done = asyncio.Event()

    async def sample_rss() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server_rss_mb(port))
            await asyncio.sleep(0.2)

    front_refusals: list[float] = []

    async def one(batch: list[str]) -> tuple[int, float, bool]:
        started = time.perf_counter()
        try:
            answer = await client.post("/embeddings/batch", json={"texts": batch}, timeout=120)
        except httpx.HTTPError:
            return 0, time.perf_counter() - started, False
        elapsed = time.perf_counter() - started
        if answer.status_code == 503 and "requests in progress at most" in answer.text:
            front_refusals.append(elapsed)  # refused by the ASGI front's lane, before the body was read
        retry_after = "retry-after" in answer.headers
        return answer.status_code, elapsed, retry_after

    sampler = asyncio.create_task(sample_rss())
    results = await asyncio.gather(*(one(batch) for batch in texts))
    done.set()
    await sampler
    ok = [elapsed for status, elapsed, _ in results if 200 <= status < 300]
    refused = [(elapsed, retry) for status, elapsed, retry in results if status in (429, 503)]
    other = [status for status, _, _ in results if not (200 <= status < 300 or status in (429, 503))]
    return {
        "ok": len(ok),
        "refused": len(refused),
        "refused_with_retry_after": sum(1 for _, retry in refused if retry),
        "other_or_timeout": len(other),
        "refusal_max_s": max((elapsed for elapsed, _ in refused), default=0.0),
        "refused_at_front": len(front_refusals),
        "front_refusal_max_s": max(front_refusals, default=0.0),
        "ok_max_s": max(ok, default=0.0),
        "rss_before_mb": rss_before,
        "rss_peak_mb": peak,
    }


# A different short text on every request (so no cache answers), built by wrk itself: a Python
# client on the same two cores cost more CPU per request than the server and capped the figure.
SHORT_TEXTS_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"text": "client ' .. (counter % 16) .. ' asks thing ' .. counter .. '"}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


def short_text_throughput(base: str, port: int, seconds: float, clients: int) -> dict[str, Any]:
    """``clients`` connections each sending one short text per request (wrk): req/s, and requests
    per server CPU-second (what the server costs, whatever the load generator takes)."""
    return wrk_per_server_cpu(port, f"{base}/embeddings/generate", seconds, clients, lua=SHORT_TEXTS_LUA)


async def sample_vectors(client: httpx.AsyncClient) -> np.ndarray:
    texts = [f"sample text number {i} about the weather" for i in range(16)]
    answers = await asyncio.gather(*(client.post("/embeddings/generate", json={"text": text}) for text in texts))
    failed = [answer.text for answer in answers if answer.status_code >= 300]
    if failed:
        raise RuntimeError(f"embedding failed: {failed[0][:300]}")
    return np.array([answer.json()["embedding"] for answer in answers], dtype=np.float32)


def run_stack(stack: str, fake_base: str, args: argparse.Namespace, audio: bytes) -> dict[str, Any]:
    extra = {
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": f"{fake_base}/v1",
        "EMBEDDING_MODEL": "all-MiniLM-L6-v2",
        "EMBEDDING_CACHE_ENABLED": "false",
        "WARM_MODELS_ON_START": "true",
        "ACCESS_LOG": "false",
        "PROVIDER_MAX_RETRIES": "0",
        "TRANSCRIPTION_BACKEND": "local",
    }
    if stack == "granian-wsgi":
        extra["EMBEDDING_BATCH_WINDOW_MS"] = "0"
    server = "granian-wsgi" if stack == "granian-wsgi" else "granian"
    results: dict[str, Any] = {}
    rng = random.Random(7)
    with django_server(server, 2, **extra) as base:
        port = int(base.rsplit(":", 1)[1])
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)

        async def scenarios() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
                await client.post("/embeddings/generate", json={"text": "warm"})
                results["generate_64"] = await generate_burst(client, 64)
                results["mixed"] = await mixed_burst(client, rng, audio)
                results["short_texts"] = await asyncio.to_thread(short_text_throughput, base, port, args.seconds, 16)
                results["vectors"] = await sample_vectors(client)
                if not args.quick:
                    results["overload"] = await overload(client, rng, port, 200)

        try:
            asyncio.run(scenarios())
        finally:
            report(stack, results)
    return results


def report(stack: str, results: dict[str, Any]) -> None:
    if "short_texts" not in results:
        print(f"[{stack}] incomplete: {results}")
        return
    wall, statuses = results["generate_64"]
    print(f"[{stack}] 64 x /analysis/generate (upstream 2 s): wall {wall:.2f} s, statuses {sorted(set(statuses))}")
    mixed = results["mixed"]
    print(
        f"[{stack}] mixed burst: work {mixed['work_s']:.1f} s, statuses {mixed['statuses']}; /health over "
        f"{mixed['probes']} probes p50 {mixed['probe_p50_ms']:.1f} ms, p99 {mixed['probe_p99_ms']:.1f} ms, "
        f"max {mixed['probe_max_ms']:.0f} ms, failed {mixed['probe_failures']}"
    )
    short = results["short_texts"]
    print(
        f"[{stack}] 16 clients x 1 short text: {short['rps']:.0f} req/s, {short['per_cpu_s']:.0f} per server "
        f"CPU-second, errors {short['errors']:.0f}"
    )
    if "overload" in results:
        o = results["overload"]
        print(
            f"[{stack}] 200 x /embeddings/batch: ok {o['ok']} (slowest {o['ok_max_s']:.1f} s), refused {o['refused']} "
            f"({o['refused_with_retry_after']} with Retry-After, slowest refusal {o['refusal_max_s']:.2f} s; "
            f"{o['refused_at_front']} at the front, slowest {o['front_refusal_max_s']:.2f} s), "
            f"other/timeouts {o['other_or_timeout']}; RSS {o['rss_before_mb']:.0f} -> peak {o['rss_peak_mb']:.0f} MB"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="skip the overload scenario")
    parser.add_argument("--skip-baseline", action="store_true", help="only the current serving model")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the short-text throughput run")
    args = parser.parse_args()
    audio = audio_wav(60.0)
    stacks = ["serve"] if args.skip_baseline else ["serve", "granian-wsgi"]
    with serve(OpenAIHandler) as fake:

        def slow_reply(body: dict[str, Any]) -> str:
            time.sleep(UPSTREAM_DELAY)
            return "Caching keeps answers close to the people who ask."

        fake.reply = slow_reply
        results = {stack: run_stack(stack, fake.base_url, args, audio) for stack in stacks}
    if len(stacks) == 2:
        new, old = (results[stack]["short_texts"] for stack in stacks)
        print(
            f"short-text embeddings: {new['rps'] / max(old['rps'], 1e-9):.2f}x the old serving model's req/s, "
            f"{new['per_cpu_s'] / max(old['per_cpu_s'], 1e-9):.2f}x its requests per server CPU-second"
        )
        difference = np.abs(results["serve"]["vectors"] - results["granian-wsgi"]["vectors"]).max()
        print(f"vectors, batched vs unbatched server: max abs difference {difference:.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
