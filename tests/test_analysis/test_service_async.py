"""The guide's service pattern for analysis: AnalysisService's async methods answer what their sync
twins do (local methods, and a fake OpenAI server), and the views over a mocked AnalysisService."""

from __future__ import annotations

import json
import threading
from unittest.mock import AsyncMock, MagicMock, patch

import pytest
from asgiref.sync import async_to_sync

from services import analysis_service
from services.analysis_service import AnalysisService
from services.llm.base import ChatDelta
from services.llm_service import ChatStream

from .test_llm_analysis import scripted

ARTICLE = (
    "The city council approved a new public transport plan on Monday after a long debate. "
    "The plan adds twelve electric bus lines and extends the tram network to the northern suburbs. "
    "Council members said the electric buses will cut emissions in the city centre by a third. "
    "Opposition members criticised the cost of the plan, which they put at 400 million euros."
)
REVIEW = "An absolutely wonderful film: moving, funny and beautifully acted. I loved every minute."


def test_get_instance_is_the_module_instance() -> None:
    assert AnalysisService.get_instance() is analysis_service.get_instance()


@pytest.mark.parametrize(
    ("async_name", "sync_name", "args"),
    [
        ("summarize_text", "summarize", (ARTICLE, 30, None, "fast")),
        ("analyze_sentiment", "sentiment", (REVIEW, True, None, "fast")),
        ("extract_keywords", "keywords", (ARTICLE, 5, None, "fast")),
        ("classify_text", "classify", (REVIEW, ["film review", "weather report"], False, None, "fast")),
        ("analyze_text", "analyze", (ARTICLE, ["sentiment", "keywords"], None, "fast")),
    ],
)
def test_async_methods_answer_what_the_local_methods_do(async_name, sync_name, args) -> None:
    service = AnalysisService.get_instance()
    expected = getattr(service, sync_name)(*args)
    assert async_to_sync(getattr(service, async_name))(*args) == expected
    assert expected["model"] == "local"


def test_the_local_answers_are_real(openai_fake) -> None:
    """method "fast" stays local even with an LLM configured; the values are the local methods'."""
    service = AnalysisService.get_instance()
    sentiment = async_to_sync(service.analyze_sentiment)(REVIEW, False, None, "fast")
    assert sentiment["sentiment"] == "positive" and sentiment["method"] == "local:embedding-axis"
    found = async_to_sync(service.classify_text)(REVIEW, ["film review", "weather report"], False, None, "fast")
    assert found["classifications"][0]["category"] == "film review"
    assert openai_fake.requests == []


def test_async_methods_run_on_the_callers_thread(monkeypatch) -> None:
    """The sync work runs back on the request thread (Django's per-thread cache connections)."""
    service = AnalysisService.get_instance()
    seen: list[int] = []
    real = AnalysisService.keywords

    def recording(self, *args):
        seen.append(threading.get_ident())
        return real(self, *args)

    monkeypatch.setattr(AnalysisService, "keywords", recording)
    async_to_sync(service.extract_keywords)(ARTICLE, 3, None, "fast")
    assert seen == [threading.get_ident()]


def test_async_methods_answer_what_the_llm_methods_do(openai_fake) -> None:
    openai_fake.reply = scripted(json.dumps({"summary": "Short.", "keyPoints": ["a", "b", "c"]}))
    service = AnalysisService.get_instance()
    expected = service.summarize("A long text.", 50, None, "llm")
    assert async_to_sync(service.summarize_text)("A long text.", 50, None, "llm") == expected
    assert expected["summary"] == "Short." and expected["method"] == "llm:gpt-4o-mini-fake-0001"
    assert openai_fake.requests[0]["body"] == openai_fake.requests[1]["body"]


def test_generate_text_answers_what_generate_does(openai_fake) -> None:
    service = AnalysisService.get_instance()
    expected = service.generate("Write a haiku", "About rain", "gpt-4o", 200, 0.5)
    assert async_to_sync(service.generate_text)("Write a haiku", "About rain", "gpt-4o", 200, 0.5) == expected
    assert expected["content"] == "Echo: Write a haiku" and expected["model"] == "gpt-4o"
    assert expected["tokensUsed"] > 0


def test_stream_generate_ends_with_generates_keys(openai_fake) -> None:
    openai_fake.reply = lambda body: "drip drop"
    stream = AnalysisService.get_instance().stream_generate("Write a haiku")
    deltas = list(stream.deltas)
    done = stream.final_body("".join(d.content for d in deltas if not d.done), deltas[-1])
    assert done == {
        "content": "drip drop",
        "model": "gpt-4o-mini-fake-0001",
        "tokensUsed": deltas[-1].usage["total_tokens"],
        "method": "llm:gpt-4o-mini-fake-0001",
    }


# --- the views over a mocked service (the guide's "Writing Tests" example) ----------------------
@pytest.mark.parametrize(
    ("path", "request_body", "method", "args"),
    [
        (
            "/analysis/summarize",
            {"text": "Some text", "maxLength": 40},
            "summarize_text",
            ("Some text", 40, None, None),
        ),
        (
            "/analysis/sentiment",
            {"text": "Some text", "includeAspects": True, "method": "fast"},
            "analyze_sentiment",
            ("Some text", True, None, "fast"),
        ),
        (
            "/analysis/keywords",
            {"text": "Some text", "maxKeywords": 4},
            "extract_keywords",
            ("Some text", 4, None, None),
        ),
        (
            "/analysis/classify",
            {"text": "Some text", "categories": ["a", "b"], "model": "gpt-4o"},
            "classify_text",
            ("Some text", ["a", "b"], False, "gpt-4o", None),
        ),
        ("/analysis/text", {"text": "Some text"}, "analyze_text", ("Some text", None, None, None)),
        ("/analysis/generate", {"prompt": "Write"}, "generate_text", ("Write", None, None, None, None)),
    ],
)
def test_views_return_the_service_result(api_client, path, request_body, method, args) -> None:
    answer = {"value": f"mocked {method}", "model": "m"}
    with patch("analysis.views.AnalysisService") as service_class:
        instance = MagicMock()
        setattr(instance, method, AsyncMock(return_value=answer))
        service_class.get_instance.return_value = instance
        response = api_client.post(path, request_body, format="json")
    assert response.status_code == 201, response.content
    assert response.json() == {"success": True, **answer}
    getattr(instance, method).assert_awaited_once_with(*args)


def test_generate_view_streams_the_service_stream(api_client) -> None:
    deltas = iter([ChatDelta(content="drip "), ChatDelta(content="drop"), ChatDelta(done=True, model="m")])
    stream = ChatStream(deltas, lambda text, last: {"content": text, "method": f"llm:{last.model}"})
    with patch("analysis.views.AnalysisService") as service_class:
        instance = MagicMock()
        instance.stream_generate = MagicMock(return_value=stream)
        service_class.get_instance.return_value = instance
        response = api_client.post("/analysis/generate", {"prompt": "Write", "stream": True}, format="json")
    assert response.status_code == 200
    raw = b"".join(response.streaming_content).decode()
    assert raw.endswith(
        'event: done\ndata: {"success":true,"content":"drip drop","method":"llm:m"}\n\ndata: [DONE]\n\n'
    )
    assert raw.startswith('event: delta\ndata: {"content":"drip "}\n\n')
    instance.stream_generate.assert_called_once_with("Write", None, None, None, None)
