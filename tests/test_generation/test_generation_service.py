"""The guide's service pattern for generation: GenerationService (and LLMService.complete) against the
fake OpenAI server, and the views over a mocked GenerationService, like tests/test_guide_example.py."""

from __future__ import annotations

import json
import time
import uuid
from unittest.mock import AsyncMock, MagicMock, patch

import pytest
from asgiref.sync import async_to_sync

from mlservice.core.errors import ServiceUnavailable
from services import generation_service, llm_service
from services.generation_service import GenerationService
from services.llm.base import ChatDelta
from services.llm_service import ChatStream, LLMService

from .test_generation_api import sse_events

JOKE = [{"role": "system", "content": "You are funny."}, {"role": "user", "content": "Tell me a joke"}]


def test_get_instance_is_the_module_instance() -> None:
    assert GenerationService.get_instance() is generation_service.get_instance()
    assert LLMService.get_instance() is llm_service.get_instance()


def test_llm_complete_returns_what_chat_does(openai_fake) -> None:
    llm = LLMService.get_instance()
    expected = llm.chat(JOKE, model="gpt-4", temperature=0.5, max_tokens=200)
    result = async_to_sync(llm.complete)(JOKE, model="gpt-4", temperature=0.5, max_tokens=200)
    assert result == expected
    assert result.content == "Echo: Tell me a joke" and result.model == "gpt-4-fake-0001"
    assert openai_fake.requests[-1]["body"] == openai_fake.requests[-2]["body"]
    assert openai_fake.requests[-1]["body"]["max_tokens"] == 200


def test_generate_text_builds_the_contract_body(openai_fake) -> None:
    service = GenerationService.get_instance()
    body = async_to_sync(service.generate_text)("Tell me a joke", "You are funny.", "gpt-4", 0.5, 200)
    usage = LLMService.get_instance().chat(JOKE, model="gpt-4", temperature=0.5, max_tokens=200).usage
    assert set(body) == {"success", "id", "content", "model", "tokens_used", "processing_time_ms"}
    assert body["success"] is True and body["content"] == "Echo: Tell me a joke"
    assert body["model"] == "gpt-4-fake-0001"
    assert body["tokens_used"] == usage["total_tokens"] > 0
    assert body["processing_time_ms"] >= 0
    uuid.UUID(body["id"])
    sent = openai_fake.requests[0]["body"]
    assert sent["messages"] == JOKE and sent["temperature"] == 0.5


def test_stream_text_ends_with_the_same_body(openai_fake) -> None:
    openai_fake.reply = lambda body: "red green blue"
    stream = GenerationService.get_instance().stream_text("colours")
    deltas = list(stream.deltas)
    text = "".join(d.content for d in deltas if not d.done)
    done = stream.final_body(text, deltas[-1])
    assert text == "red green blue"
    assert done["content"] == "red green blue" and done["model"] == "gpt-4o-mini-fake-0001"
    assert done["tokens_used"] == deltas[-1].usage["total_tokens"] > 0


def test_chat_completion_is_the_gateway_shape_of_chat(openai_fake) -> None:
    messages = [{"role": "user", "content": "Hello there"}]
    result = LLMService.get_instance().chat(messages, model="gpt-5.2", max_tokens=500)
    body = async_to_sync(GenerationService.get_instance().chat_completion)(messages, "gpt-5.2", None, 500)
    assert body["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Echo: Hello there"}, "finish_reason": "stop"}
    ]
    assert body["content"] == result.content and body["model"] == result.model == "gpt-5.2-fake-0001"
    assert body["usage"] == result.usage
    assert openai_fake.requests[-1]["body"]["max_completion_tokens"] == 500


def test_openai_chat_completion_body(openai_fake) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    body = async_to_sync(GenerationService.get_instance().openai_chat_completion)(
        messages, "chatcmpl-1", 1700000000, model="gpt-4o", json_mode=True
    )
    result = LLMService.get_instance().chat(messages, model="gpt-4o", json_mode=True)
    assert body == {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-fake-0001",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Echo: Hi", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": result.usage,
        "system_fingerprint": None,
    }
    assert openai_fake.requests[0]["body"]["response_format"] == {"type": "json_object"}


def test_generate_image(openai_fake) -> None:
    body = async_to_sync(GenerationService.get_instance().generate_image)("a cat", "1792x1024", "hd", "natural")
    assert body["image_url"] == "http://127.0.0.1/image.png" and body["revised_prompt"] == "A picture of a cat"
    assert body["size"] == "1792x1024" and body["success"] is True
    sent = openai_fake.requests[-1]["body"]
    assert (sent["prompt"], sent["quality"], sent["style"]) == ("a cat", "hd", "natural")


def test_generate_image_without_a_key_is_503() -> None:
    with pytest.raises(ServiceUnavailable) as caught:
        async_to_sync(GenerationService.get_instance().generate_image)("a cat", "1024x1024", "standard", "vivid")
    assert caught.value.status == 503 and "OPENAI_API_KEY" in caught.value.message


# --- the views over a mocked service (the guide's "Writing Tests" example) ----------------------
def _mocked(**methods: object) -> MagicMock:
    instance = MagicMock()
    for name, value in methods.items():
        setattr(instance, name, value)
    return instance


def test_text_view_returns_the_service_body(api_client) -> None:
    answer = {"success": True, "id": "x", "content": "mocked", "model": "m", "tokens_used": 3, "processing_time_ms": 1}
    with patch("generation.views.GenerationService") as service_class:
        instance = service_class.get_instance.return_value = _mocked(generate_text=AsyncMock(return_value=answer))
        response = api_client.post(
            "/generation/text", {"prompt": "hi", "system_prompt": "Be brief", "max_tokens": 200}, format="json"
        )
    assert response.status_code == 201
    assert response.json() == answer
    instance.generate_text.assert_awaited_once_with("hi", "Be brief", None, None, 200)


def test_chat_view_returns_the_service_body(api_client) -> None:
    answer = {"success": True, "id": "y", "choices": [], "content": "mocked", "usage": {}, "model": "m"}
    with patch("generation.views.GenerationService") as service_class:
        instance = service_class.get_instance.return_value = _mocked(chat_completion=AsyncMock(return_value=answer))
        response = api_client.post(
            "/chat/completions",
            {"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o", "temperature": 0.2},
            format="json",
        )
    assert response.status_code == 201
    assert response.json() == answer
    messages, model, temperature, max_tokens = instance.chat_completion.await_args.args
    assert [dict(m) for m in messages] == [{"role": "user", "content": "hi"}]
    assert (model, temperature, max_tokens) == ("gpt-4o", 0.2, None)


def test_image_view_returns_the_service_body(api_client) -> None:
    answer = {"success": True, "id": "z", "image_url": "http://img/1.png", "size": "1024x1024", "processing_time_ms": 2}
    with patch("generation.views.GenerationService") as service_class:
        instance = service_class.get_instance.return_value = _mocked(generate_image=AsyncMock(return_value=answer))
        response = api_client.post("/generation/image", {"prompt": "a cat"}, format="json")
    assert response.status_code == 201
    assert response.json() == answer
    instance.generate_image.assert_awaited_once_with("a cat", "1024x1024", "standard", "vivid")


def test_text_view_streams_the_service_stream(api_client) -> None:
    deltas = iter([ChatDelta(content="a "), ChatDelta(content="b"), ChatDelta(done=True, model="m")])
    stream = ChatStream(deltas, lambda text, last: {"content": text, "model": last.model})
    with patch("generation.views.GenerationService") as service_class:
        service_class.get_instance.return_value = _mocked(stream_text=MagicMock(return_value=stream))
        response = api_client.post("/generation/text", {"prompt": "hi", "stream": True}, format="json")
    assert response.status_code == 200
    events = sse_events(response)
    assert events == [
        ("delta", '{"content":"a "}'),
        ("delta", '{"content":"b"}'),
        ("done", '{"content":"a b","model":"m"}'),
        (None, "[DONE]"),
    ]


def test_openai_view_returns_the_service_body(api_client) -> None:
    answer = {"id": "chatcmpl-mock", "object": "chat.completion", "choices": []}
    with patch("generation.openai_compat.GenerationService") as service_class:
        instance = service_class.get_instance.return_value = _mocked(
            openai_chat_completion=AsyncMock(return_value=answer)
        )
        response = api_client.post(
            "/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}, format="json"
        )
    assert response.status_code == 200
    assert json.loads(response.content) == answer
    messages, completion_id, created = instance.openai_chat_completion.await_args.args
    assert messages == [{"role": "user", "content": "hi"}] and completion_id.startswith("chatcmpl-")
    assert abs(created - time.time()) < 60
    assert instance.openai_chat_completion.await_args.kwargs == {
        "model": "gpt-4o",
        "temperature": None,
        "max_tokens": None,
        "json_mode": False,
    }


def test_chat_result_of_a_stream_matches(openai_fake) -> None:
    """stream_chat's done body is the body chat_completion answers (ids and timing aside)."""
    messages = [{"role": "user", "content": "one two"}]
    service = GenerationService.get_instance()
    whole = async_to_sync(service.chat_completion)(messages)
    stream = service.stream_chat(messages)
    deltas = list(stream.deltas)
    done = stream.final_body("".join(d.content for d in deltas if not d.done), deltas[-1])
    assert {k: v for k, v in done.items() if k != "id"} == {k: v for k, v in whole.items() if k != "id"}
