"""Streamed RAG answers (issue 14): ``POST /rag/query`` with ``stream: true`` read by a real SSE
client (httpx-sse) from pytest-django's live server. Behind it the LLM is a fake OpenAI server
(real HTTP, real SDK) or, in the slow test, the packaged local LLM."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import override_settings
from httpx_sse import ServerSentEvent, connect_sse

from services.llm import local_models
from services.rag_service import RAGService

DOCUMENTS = [
    ("Paris is the capital of France and its largest city.", "france.md"),
    ("Berlin is the capital of Germany; it sits on the river Spree.", "germany.md"),
    ("Madrid is the capital of Spain and lies on the Manzanares.", "spain.md"),
]


@pytest.fixture(autouse=True)
def local_embeddings():
    with override_settings(EMBEDDING_MODEL="all-MiniLM-L6-v2"):  # not OpenAI's when a fake key is set
        yield


@pytest.fixture
def indexed(embedded_api: RAGService, live_server) -> str:
    for content, source in DOCUMENTS:
        response = httpx.post(
            f"{live_server.url}/rag/index",
            json={"content": content, "source": source, "collection": "capitals", "documentId": source},
        )
        assert response.status_code == 201, response.text
    return live_server.url


@pytest.fixture
def generative():
    with override_settings(RAG_ANSWER_MODE="auto"):
        yield


def _stream(url: str, body: dict[str, Any]) -> tuple[httpx.Response, list[ServerSentEvent]]:
    with httpx.Client(timeout=60) as client, connect_sse(client, "POST", f"{url}/rag/query", json=body) as source:
        return source.response, list(source.iter_sse())


def _without_markers(answer: str) -> str:
    return re.sub(r" \[\d+\]", "", answer).rstrip()


def _query(**extra: Any) -> dict[str, Any]:
    return {"query": "What is the capital of France?", "collection": "capitals", "minScore": 0, **extra}


def test_streamed_answer_sends_sources_then_tokens_then_citations(indexed, generative, openai_fake) -> None:
    openai_fake.reply = lambda body: "Paris is the capital of France [1], not Berlin [2]."
    response, events = _stream(indexed, _query(stream=True, contextLimit=3))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [event.event for event in events]
    assert names[0] == "sources" and names[-2:] == ["done", "message"] and events[-1].data == "[DONE]"
    assert set(names[1:-2]) == {"delta"} and len(names[1:-2]) == 10  # one per word from the fake

    sources = json.loads(events[0].data)["sources"]
    assert sources[0]["source"] == "france.md" and len(sources) == 3
    done = json.loads(events[-2].data)
    text = "".join(json.loads(event.data)["content"] for event in events[1:-2])
    assert text == done["answer"] == "Paris is the capital of France [1], not Berlin [2]."
    assert done["answerType"] == "generative" and done["success"] is True
    assert done["sources"] == sources
    assert [(c["index"], c["source"]) for c in done["citations"]] == [
        (1, sources[0]["source"]),
        (2, sources[1]["source"]),
    ]
    assert done["citations"][0]["documentId"] == sources[0]["metadata"]["document_id"] == "france.md"
    assert done["model"].endswith("-fake-0001")
    usage = done["usage"]
    assert usage["completion_tokens"] == 10 and usage["total_tokens"] == usage["prompt_tokens"] + 10
    assert done["tokensUsed"] == usage["total_tokens"]
    # The model was given the same numbered context the sources list.
    prompt = openai_fake.requests[-1]["body"]["messages"][-1]["content"]
    assert "[Source 1: france.md]" in prompt and openai_fake.requests[-1]["body"]["stream"] is True


def test_the_done_event_carries_the_attributed_answer(indexed, generative, openai_fake) -> None:
    openai_fake.reply = lambda body: "Paris is the capital of France and its largest city."
    _, events = _stream(indexed, _query(stream=True, contextLimit=3))
    text = "".join(json.loads(event.data)["content"] for event in events[1:-2])
    done = json.loads(events[-2].data)
    assert text == "Paris is the capital of France and its largest city."  # the tokens as the model wrote them
    assert done["answer"] == f"{text} [1]" and done["citations"][0]["source"] == "france.md"


def test_streamed_and_plain_answers_list_the_same_sources(indexed, generative, openai_fake) -> None:
    openai_fake.reply = lambda body: "Paris [1]."
    plain = httpx.post(f"{indexed}/rag/query", json=_query()).json()
    _, events = _stream(indexed, _query(stream=True))
    done = json.loads(events[-2].data)
    assert json.loads(events[0].data)["sources"] == plain["sources"]
    assert {key: done[key] for key in plain} == plain


def test_extractive_mode_streams_sources_one_delta_and_done(indexed) -> None:
    plain = httpx.post(f"{indexed}/rag/query", json=_query()).json()
    _, events = _stream(indexed, _query(stream=True))
    assert [event.event for event in events] == ["sources", "delta", "done", "message"]
    done = json.loads(events[2].data)
    assert json.loads(events[1].data)["content"] == done["answer"] == plain["answer"]
    assert done["answerType"] == "extractive" and done["citations"] == plain["citations"]
    assert done["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_an_error_after_the_stream_began_is_an_error_event(indexed, generative, openai_fake) -> None:
    openai_fake.reply = lambda body: "Paris is the capital [1] of France."
    openai_fake.stream_error_after = 2
    response, events = _stream(indexed, _query(stream=True))
    assert response.status_code == 200
    assert [event.event for event in events] == ["sources", "delta", "delta", "error"]
    error = json.loads(events[-1].data)
    assert error["success"] is False and error["statusCode"] == 502
    assert "server had an error" in error["error"]


def test_errors_before_the_stream_are_json_with_a_status(indexed, generative, openai_fake) -> None:
    openai_fake.fail_next(429, "Rate limit reached", times=2, error_type="rate_limit_error")
    response = httpx.post(f"{indexed}/rag/query", json=_query(stream=True))
    assert response.headers["content-type"] == "application/json"
    assert response.status_code == 503 and response.json()["statusCode"] == 503
    bad = httpx.post(f"{indexed}/rag/query", json=_query(stream="yes"))
    assert bad.status_code == 400 and bad.json()["message"] == ["stream must be a boolean value"]
    with override_settings(RAG_ANSWER_MODE="llm", OPENAI_API_KEY="", OPENAI_BASE_URL=""):
        none = httpx.post(f"{indexed}/rag/query", json=_query(stream=True))
    assert none.status_code == 503 and "RAG_ANSWER_MODE=llm" in none.json()["error"]


def test_a_client_that_disconnects_stops_the_upstream_stream(indexed, generative, openai_fake) -> None:
    openai_fake.reply = lambda body: " ".join(["word"] * 200)
    openai_fake.stream_pause = 0.02  # 200 words take 4 s
    received = 0
    with httpx.Client(timeout=30) as client:
        with connect_sse(client, "POST", f"{indexed}/rag/query", json=_query(stream=True)) as source:
            for event in source.iter_sse():
                received += event.event == "delta"
                if received == 3:
                    break
    # Our server notices at its next write and closes the stream, which closes the upstream one.
    time.sleep(1.0)
    sent = openai_fake.events_sent
    time.sleep(0.5)
    assert openai_fake.events_sent == sent < 100


@pytest.fixture
def local_llm(settings) -> Iterator[None]:
    settings.LOCAL_LLM_MODEL = "qwen2.5-coder-0.5b-instruct"
    settings.LOCAL_LLM_MAX_TOKENS = 16
    if not local_models.is_installed():
        pytest.fail("the packaged local LLM is not installed: `make install` installs it (requirements/base.txt)")
    with override_settings(RAG_ANSWER_MODE="auto"):
        yield


@pytest.mark.slow
def test_the_local_llm_streams_a_rag_answer(indexed, local_llm) -> None:
    response, events = _stream(indexed, _query(stream=True, contextLimit=2))
    assert response.status_code == 200
    names = [event.event for event in events]
    assert names[0] == "sources" and names[-2] == "done" and "delta" in names
    done = json.loads(events[-2].data)
    text = "".join(json.loads(event.data)["content"] for event in events if event.event == "delta")
    # done's answer is the tokens', with the server's [n] after sentences the sources support
    assert _without_markers(done["answer"]) == _without_markers(text) and text.strip()
    assert done["model"] == "qwen2.5-coder-0.5b-instruct" and done["answerType"] == "generative"
    assert 0 < done["usage"]["completion_tokens"] <= 16
    assert all(1 <= c["index"] <= len(done["sources"]) for c in done["citations"])


# --- the OpenAI-compatible chat with a collection (generation/openai_rag.py) ---------------------
@pytest.fixture
def openai_client(indexed):
    import openai

    return openai.OpenAI(api_key="anything", base_url=f"{indexed}/v1", max_retries=0, timeout=30)


def test_openai_client_streams_a_rag_answer_with_sources(openai_client, generative, openai_fake) -> None:
    openai_fake.reply = lambda body: "Paris [1]."
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of France?"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"collection": "capitals", "rag": {"contextLimit": 2, "minScore": 0}},
    )
    chunks = list(stream)
    sources = chunks[0].model_extra["sources"]
    assert [s["source"] for s in sources][:1] == ["france.md"] and len(sources) == 2
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Paris [1]."
    final = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert final.choices[0].finish_reason == "stop"
    assert [(c["index"], c["source"]) for c in final.model_extra["citations"]] == [(1, "france.md")]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 2
    sent = openai_fake.requests[-1]["body"]
    assert (
        sent["messages"][0]["content"].endswith("Be brief.")
        and "[Source 1: france.md]" in sent["messages"][-1]["content"]
    )


def test_openai_client_rag_answer_without_streaming_and_bad_options(openai_client, generative, openai_fake) -> None:
    import openai

    openai_fake.reply = lambda body: "Berlin [1]."
    completion = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Capital of Germany?"}],
        extra_body={"collection": "capitals", "rag": {"minScore": 0}},
    )
    assert completion.choices[0].message.content == "Berlin [1]."
    assert completion.model_extra["sources"][0]["source"] == "germany.md"
    assert completion.model_extra["citations"][0]["documentId"] == "germany.md"
    with pytest.raises(openai.BadRequestError) as bad:
        openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"collection": "capitals", "rag": {"topK": 3}},
        )
    assert bad.value.body["param"] == "rag.topK"


@pytest.mark.slow
def test_a_client_leaving_stops_the_local_llm(indexed, local_llm, settings) -> None:
    from services.model_gate import gate_for

    settings.LOCAL_LLM_MAX_TOKENS = 400  # about 15 s of tokens on one thread: far longer than the test
    body = _query(stream=True, contextLimit=1, query="Write a long essay about the capital of France.")
    started = time.perf_counter()
    with httpx.Client(timeout=60) as client:
        with connect_sse(client, "POST", f"{indexed}/rag/query", json=body) as source:
            for event in source.iter_sse():
                if event.event == "delta":
                    break
    left = time.perf_counter()
    # The server's next write fails, the stream is closed, llama.cpp stops at its next token and
    # the model slot is free again, long before the 400 tokens would have been written.
    assert _eventually(lambda: gate_for("local-llm").stats().running == 0, timeout=5.0)
    assert time.perf_counter() - left < 5.0 and left - started < 30


def _eventually(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_openai_stream_past_the_deadline_ends_with_an_openai_error(openai_client, openai_fake, settings) -> None:
    import openai

    settings.SERVER_STREAM_TIMEOUT_SECONDS = 0.3
    openai_fake.reply = lambda body: " ".join(["word"] * 50)
    openai_fake.stream_pause = 0.05
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Go"}], stream=True
    )
    received = []
    with pytest.raises(openai.APIError, match="SERVER_STREAM_TIMEOUT_SECONDS"):
        for chunk in stream:
            received.append(chunk)
    assert 2 < len(received) < 20
