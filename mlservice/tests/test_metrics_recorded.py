"""Every family the README lists moves by what the requests did (issue 14): real requests, then
``/metrics`` is scraped and each sample is compared with its value before (values, not presence).

The test settings give each run its own multiprocess folder, so nothing else counts into it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from prometheus_client.parser import text_string_to_metric_families

from mlservice import metrics
from mlservice.serving import ServingLimits, ThreadPoolWSGI
from services.embedding_service import LOCAL_MODEL_NAME
from services.model_gate import gate_for
from tests.test_embeddings.fake_openai import start_fake_openai
from tests.test_generation.provider_fixtures import anthropic_fake, no_llm, openai_fake  # noqa: F401 - fixtures
from transcription.models import TranscriptionJob

CLIP = Path(django_settings.BASE_DIR).parent / "shared" / "eval" / "librispeech" / "1089-134691-0000.flac"
LOCAL_LLM = "qwen2.5-coder-0.5b-instruct"


class Scrape:
    def __init__(self, api=None) -> None:
        """``/metrics`` through the API; without ``api``, the same text rendered directly (for code
        that runs inside an event loop, where Django's test client cannot be used)."""
        if api is None:
            text = metrics.render().decode()
        else:
            response = api.get("/metrics")
            assert response.status_code == 200
            text = response.content.decode()
        self.samples: dict[tuple[str, frozenset], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def names(self, name: str) -> list[dict[str, str]]:
        return [dict(labels) for sample, labels in self.samples if sample == name]


def moved(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def test_local_embeddings_count_model_calls_tokens_and_cache_lookups(api) -> None:
    text = f"metrics check {uuid.uuid4().hex}"
    model = {"kind": "embedding", "provider": "local", "model": LOCAL_MODEL_NAME}
    before = Scrape(api)
    assert api.post("/embeddings/generate", {"text": text}, format="json").status_code == 201
    first = Scrape(api)
    # Same text again: a cache hit, no model call, no model tokens; usage still reports its tokens.
    again = api.post("/v1/embeddings", {"input": text, "model": LOCAL_MODEL_NAME}, format="json")
    assert again.status_code == 200, again.content
    tokens = again.json()["usage"]["prompt_tokens"]
    second = Scrape(api)

    assert tokens > 3
    assert moved(before, first, "mlservice_cache_lookups_total", cache="embedding", result="miss") == 1
    assert moved(before, first, "mlservice_cache_lookups_total", cache="embedding", result="hit") == 0
    assert moved(before, first, "mlservice_model_duration_seconds_count", **model) == 1
    assert moved(before, first, "mlservice_model_duration_seconds_sum", **model) > 0
    assert moved(before, first, "mlservice_tokens_total", **model, direction="prompt") == tokens
    assert moved(first, second, "mlservice_cache_lookups_total", cache="embedding", result="hit") == 1
    assert moved(first, second, "mlservice_cache_lookups_total", cache="embedding", result="miss") == 0
    assert moved(first, second, "mlservice_model_duration_seconds_count", **model) == 0
    assert moved(first, second, "mlservice_tokens_total", **model, direction="prompt") == 0


def test_provider_generations_count_latency_and_usage_tokens_with_bounded_model_names(
    api,
    settings,
    openai_fake,  # noqa: F811 - fixture
) -> None:
    settings.DEFAULT_LLM_MODEL = "gpt-4o-mini"
    configured = {"kind": "llm", "provider": "openai", "model": "gpt-4o-mini"}
    other = {**configured, "model": "other"}
    made_up = f"gpt-made-up-{uuid.uuid4().hex[:8]}"
    before = Scrape(api)
    chat = api.post("/chat/completions", {"messages": [{"role": "user", "content": "one two three"}]}, format="json")
    assert chat.status_code == 201, chat.content
    usage = chat.json()["usage"]
    unknown = api.post("/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "model": made_up},
                       format="json")  # fmt: skip
    assert unknown.status_code == 201, unknown.content
    streamed = api.post("/generation/text", {"prompt": "red green blue", "stream": True}, format="json")
    b"".join(streamed.streaming_content)
    stream_request = openai_fake.requests[-1]["body"]
    after = Scrape(api)

    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    # The stream's usage, as the fake server counts it (its last chunk carries it).
    stream_prompt = max(1, len(json.dumps(stream_request["messages"]).split()))
    stream_completion = len(openai_fake.reply(stream_request).split())
    assert moved(before, after, "mlservice_model_duration_seconds_count", **configured) == 2
    assert moved(before, after, "mlservice_tokens_total", **configured, direction="prompt") == (
        usage["prompt_tokens"] + stream_prompt
    )
    assert moved(before, after, "mlservice_tokens_total", **configured, direction="completion") == (
        usage["completion_tokens"] + stream_completion
    )
    # A model name from the request is not a label value: it counts as "other".
    assert moved(before, after, "mlservice_model_duration_seconds_count", **other) == 1
    assert moved(before, after, "mlservice_tokens_total", **other, direction="prompt") > 0
    assert not [labels for labels in after.names("mlservice_tokens_total") if labels.get("model") == made_up]


def test_local_llm_generation_counts_its_run_and_tokens(api, settings) -> None:
    settings.LOCAL_LLM_MODEL = LOCAL_LLM
    settings.LOCAL_LLM_MAX_TOKENS = 4
    model = {"kind": "llm", "provider": "local", "model": LOCAL_LLM}
    before = Scrape(api)
    response = api.post("/chat/completions", {"messages": [{"role": "user", "content": "Say hi."}]}, format="json")
    assert response.status_code == 201, response.content
    usage = response.json()["usage"]
    after = Scrape(api)
    assert 0 < usage["completion_tokens"] <= 4
    assert moved(before, after, "mlservice_model_duration_seconds_count", **model) == 1
    assert moved(before, after, "mlservice_tokens_total", **model, direction="prompt") == usage["prompt_tokens"]
    assert (
        moved(before, after, "mlservice_tokens_total", **model, direction="completion") == (usage["completion_tokens"])
    )


@pytest.fixture
def transcription_dirs(settings, tmp_path: Path) -> None:
    for name in ("TRANSCRIPTION_TEMP_DIR", "TRANSCRIPTION_JOB_DIR", "TRANSCRIPTION_UPLOAD_DIR"):
        folder = tmp_path / name.lower()
        folder.mkdir()
        setattr(settings, name, folder)
    settings.TRANSCRIPTION_BACKEND = "auto"
    settings.TRANSCRIPTION_JOB_RUNNER = "auto"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    if not CLIP.exists():
        pytest.skip(f"evaluation clip not found at {CLIP}")


def _transcribe(api):
    with CLIP.open("rb") as handle:
        return api.post("/transcription/transcribe", {"file": handle}, format="multipart")


def test_transcriptions_and_jobs_count_audio_seconds_model_calls_and_queue_depth(
    api, settings, transcription_dirs
) -> None:
    from services import transcription_service

    whisper = transcription_service.get_instance().local.model_name
    model = {"kind": "transcription", "provider": "local", "model": whisper}
    audio = {"provider": "local", "model": whisper}
    before = Scrape(api)
    response = _transcribe(api)
    assert response.status_code == 201, response.content
    duration = response.json()["transcription"]["duration"]
    direct = Scrape(api)
    # Longer than the threshold: a background job (run inline by the test settings).
    settings.TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS = 1.0
    queued = _transcribe(api)
    assert queued.status_code == 202, queued.content
    job = api.get(queued["Location"]).json()["job"]  # eager in tests: already done
    assert job["status"] == "completed", job
    waiting = TranscriptionJob.objects.create(
        filename="later.wav", duration=5.0, backend="whisper-local", model=whisper
    )
    after = Scrape(api)

    assert 1.5 < duration < 10.0  # over the 1 s threshold set for the job
    assert moved(before, direct, "mlservice_audio_seconds_total", **audio) == pytest.approx(duration, abs=0.05)
    assert moved(before, direct, "mlservice_model_duration_seconds_count", **model) == 1
    assert moved(before, direct, "mlservice_model_duration_seconds_sum", **model) > 0
    assert moved(direct, after, "mlservice_audio_seconds_total", **audio) == pytest.approx(duration, abs=0.05)
    assert moved(direct, after, "mlservice_model_duration_seconds_count", **model) == 1
    assert moved(direct, after, "mlservice_jobs_finished_total", queue="transcription", outcome="completed") == 1
    assert moved(direct, after, "mlservice_jobs_finished_total", queue="transcription", outcome="failed") == 0
    # Read from the database at scrape time: the one row still queued.
    assert after.value("mlservice_job_queue_depth", queue="transcription", state="queued") == 1
    assert after.value("mlservice_job_queue_depth", queue="transcription", state="running") == 0
    waiting.delete()
    assert Scrape(api).value("mlservice_job_queue_depth", queue="transcription", state="queued") == 0


def test_a_full_model_gate_counts_its_refusal_and_the_run_holding_it(api, settings) -> None:
    settings.LOCAL_LLM_MODEL = LOCAL_LLM
    settings.MODEL_GATES = {**settings.MODEL_GATES, "local-llm": {"concurrency": 1, "queue": 0}}
    gate = "local-llm"
    before = Scrape(api)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate_for(gate).slot():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(5)
        refused = api.post("/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, format="json")
        during = Scrape(api)
    finally:
        release.set()
        holder.join()
    after = Scrape(api)

    assert refused.status_code == 503, refused.content
    assert moved(before, during, "mlservice_model_gate_refusals_total", gate=gate, reason="queue_full") == 1
    assert moved(before, during, "mlservice_model_gate_requests", gate=gate, state="running") == 1
    assert moved(before, during, "mlservice_model_gate_requests", gate=gate, state="waiting") == 0
    assert moved(before, after, "mlservice_model_gate_requests", gate=gate, state="running") == 0


def test_worker_processes_add_up_and_a_dead_workers_gate_gauge_is_dropped(api) -> None:
    # Two short-lived "workers" (separate processes sharing the multiprocess folder): counters
    # add up across them; the gate gauge of a process that has gone no longer counts.
    script = (
        "from mlservice import metrics\n"
        "metrics.record_refusal('local-llm', 'timeout')\n"
        "metrics.gate_entered('local-llm'); metrics.gate_started('local-llm')\n"
    )
    before = Scrape(api)
    for _ in range(2):
        subprocess.run([sys.executable, "-c", script], check=True, cwd=django_settings.BASE_DIR, timeout=60)
    after = Scrape(api)
    assert moved(before, after, "mlservice_model_gate_refusals_total", gate="local-llm", reason="timeout") == 2
    assert moved(before, after, "mlservice_model_gate_requests", gate="local-llm", state="running") == 0


def test_label_values_come_from_fixed_sets() -> None:
    assert metrics.bounded("gpt-4o-mini", {"gpt-4o-mini"}) == "gpt-4o-mini"
    assert metrics.bounded("gpt-anything-a-client-sent", {"gpt-4o-mini"}) == "other"
    with pytest.raises(ValueError):
        metrics.observe_model("speech", "local", "m", 1.0)
    with pytest.raises(ValueError):
        metrics.record_tokens("llm", "somewhere", "m", prompt=1)


def test_the_asgi_front_counts_requests_in_progress_and_refusals() -> None:
    release = threading.Event()

    def slow_app(environ, start_response):
        release.wait(5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    app = ThreadPoolWSGI(slow_app, ServingLimits(threads=1, queue=0))
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    def call(path: str):
        scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": [],
                 "server": ("testserver", 80), "client": ("10.0.0.1", 5555), "scheme": "http", "http_version": "1.1"}  # fmt: skip
        return app(scope, receive, send)

    async def scenario() -> tuple[Scrape, Scrape]:
        busy = asyncio.create_task(call("/slow"))
        while app.in_progress() < 1:
            await asyncio.sleep(0.005)
        await call("/one-too-many")
        during = Scrape()
        release.set()
        await busy
        return during, Scrape()

    before = Scrape()
    during, after = asyncio.run(scenario())
    statuses = sorted(m["status"] for m in sent if m["type"] == "http.response.start")
    assert statuses == [200, 503]
    assert moved(before, during, "mlservice_server_requests_in_progress") == 1
    assert moved(before, during, "mlservice_server_refusals_total") == 1
    assert moved(before, after, "mlservice_server_requests_in_progress") == 0


def test_openai_embeddings_and_anthropic_chats_are_counted_by_provider(
    api,
    settings,
    anthropic_fake,  # noqa: F811 - fixture
) -> None:
    fake, server = start_fake_openai()
    try:
        settings.OPENAI_BASE_URL = fake.url  # an OpenAI-compatible server: provider "compatible"
        settings.EMBEDDING_MODEL = "text-embedding-3-small"
        embedding = {"kind": "embedding", "provider": "compatible", "model": "text-embedding-3-small"}
        claude = {"kind": "llm", "provider": "anthropic", "model": settings.ANTHROPIC_DEFAULT_MODEL}
        words = f"four words {uuid.uuid4().hex} here"
        before = Scrape(api)
        assert api.post("/embeddings/generate", {"text": words}, format="json").status_code == 201
        chat = api.post(
            "/chat/completions",
            {"messages": [{"role": "user", "content": "hi"}], "model": settings.ANTHROPIC_DEFAULT_MODEL},
            format="json",
        )
        assert chat.status_code == 201, chat.content
        usage = chat.json()["usage"]
        after = Scrape(api)
    finally:
        server.shutdown()
        server.server_close()
    assert moved(before, after, "mlservice_model_duration_seconds_count", **embedding) == 1
    assert moved(before, after, "mlservice_tokens_total", **embedding, direction="prompt") == 4  # the fake counts words
    assert moved(before, after, "mlservice_model_duration_seconds_count", **claude) == 1
    assert moved(before, after, "mlservice_tokens_total", **claude, direction="prompt") == usage["prompt_tokens"]
    assert (
        moved(before, after, "mlservice_tokens_total", **claude, direction="completion") == (usage["completion_tokens"])
    )
