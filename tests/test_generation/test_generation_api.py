"""/generation/*, /chat/completions and their streaming, against fake provider servers."""

from __future__ import annotations

import json
import uuid

import pytest


def sse_events(response) -> list[tuple[str | None, str]]:
    """(event name, data) pairs of a streamed text/event-stream response."""
    raw = b"".join(response.streaming_content).decode()
    events = []
    for block in raw.strip().split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        events.append((name, "\n".join(data)))
    return events


def test_models_list_is_the_contract_one(api) -> None:
    body = api.get("/generation/models").json()
    assert [m["id"] for m in body["models"]["text"]] == ["gpt-3.5-turbo", "gpt-4-turbo", "gpt-4"]
    assert body["models"]["text"][0] == {
        "id": "gpt-3.5-turbo",
        "name": "GPT-3.5 Turbo",
        "description": "Fast and cost-effective",
    }
    assert body["models"]["image"] == [
        {"id": "dall-e-3", "name": "DALL-E 3", "description": "Latest image generation model"}
    ]


def test_generation_text_uses_gateway_fields(post_json, openai_fake) -> None:
    response = post_json(
        "/generation/text",
        {
            "prompt": "Tell me a joke",
            "system_prompt": "You are funny.",
            "max_tokens": 200,
            "temperature": 0.5,
            "model": "gpt-4",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["content"] == "Echo: Tell me a joke"
    assert body["model"] == "gpt-4-fake-0001"
    assert body["tokens_used"] > 4 and body["processing_time_ms"] >= 0
    uuid.UUID(body["id"])
    sent = openai_fake.requests[-1]["body"]
    assert sent["messages"] == [
        {"role": "system", "content": "You are funny."},
        {"role": "user", "content": "Tell me a joke"},
    ]
    assert sent["max_tokens"] == 200 and sent["temperature"] == 0.5


def test_generation_text_model_whitelist(post_json, openai_fake) -> None:
    response = post_json("/generation/text", {"prompt": "hi", "model": "gpt-5.2"})
    assert response.status_code == 400
    assert response.json()["message"] == [
        "model must be one of the following values: gpt-3.5-turbo, gpt-4-turbo, gpt-4"
    ]
    assert openai_fake.requests == []


def test_generation_text_stream_sends_deltas_then_the_json_body(post_json, openai_fake) -> None:
    openai_fake.reply = lambda body: "red green blue"
    response = post_json("/generation/text", {"prompt": "colours", "stream": True})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    events = sse_events(response)
    deltas = [json.loads(data)["content"] for name, data in events if name == "delta"]
    assert "".join(deltas) == "red green blue" and len(deltas) == 3
    name, data = events[-2]
    done = json.loads(data)
    assert name == "done" and done["content"] == "red green blue" and done["tokens_used"] > 0
    assert events[-1] == (None, "[DONE]")


def test_generation_without_provider_is_503(post_json) -> None:
    response = post_json("/generation/text", {"prompt": "hi"})
    assert response.status_code == 503
    assert "OPENAI_API_KEY" in response.json()["error"]
    streamed = post_json("/generation/text", {"prompt": "hi", "stream": True})
    assert streamed.status_code == 503  # errors before the stream starts stay plain JSON


def test_provider_rejecting_the_input_is_a_400(post_json, openai_fake) -> None:
    openai_fake.fail_next(400, "This model's maximum context length is 4097 tokens", times=1)
    response = post_json("/generation/text", {"prompt": "hi"})
    assert response.status_code == 400
    assert "maximum context length" in response.json()["error"]


def test_chat_completions_gateway_shape(post_json, openai_fake) -> None:
    response = post_json(
        "/chat/completions",
        {
            "messages": [{"role": "user", "content": "Hello there"}],
            "model": "gpt-5.2",
            "max_tokens": 500,
            "temperature": 0.7,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["content"] == "Echo: Hello there"
    assert body["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "Echo: Hello there"}, "finish_reason": "stop"}
    ]
    assert body["model"] == "gpt-5.2-fake-0001"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    assert openai_fake.requests[-1]["body"]["max_completion_tokens"] == 500


def test_chat_completions_with_anthropic(post_json, anthropic_fake) -> None:
    body = post_json(
        "/chat/completions",
        {
            "messages": [{"role": "system", "content": "Be kind"}, {"role": "user", "content": "Hi"}],
            "model": "claude-haiku-4-5",
        },
    ).json()
    assert body["content"] == "Echo: Hi" and body["model"] == "claude-haiku-4-5-20991231"
    assert anthropic_fake.requests[-1]["body"]["system"] == "Be kind"


def test_chat_stream_with_anthropic(post_json, anthropic_fake) -> None:
    anthropic_fake.reply = lambda body: "one two"
    response = post_json("/chat/completions", {"messages": [{"role": "user", "content": "count"}], "stream": True})
    events = sse_events(response)
    assert [json.loads(d)["content"] for n, d in events if n == "delta"] == ["one ", "two"]
    done = json.loads(events[-2][1])
    assert done["content"] == "one two" and done["choices"][0]["finish_reason"] == "stop"
    assert done["usage"]["completion_tokens"] == 2


def test_chat_stream_error_mid_way_is_an_error_event(post_json, openai_fake, monkeypatch) -> None:
    from mlservice.core.errors import UpstreamError
    from services.llm.base import ChatDelta
    from services.llm.openai_provider import OpenAIChatProvider

    def broken_stream(self, request):
        yield ChatDelta(content="partial ")
        raise UpstreamError("OpenAI connection dropped")

    monkeypatch.setattr(OpenAIChatProvider, "stream_chat", broken_stream)
    events = sse_events(
        post_json("/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stream": True})
    )
    assert events[0] == ("delta", '{"content":"partial "}')
    assert events[-1][0] == "error"
    assert json.loads(events[-1][1]) == {"success": False, "error": "OpenAI connection dropped", "statusCode": 502}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messages": [{"role": "user", "content": "hi", "name": "bob"}]}, "messages.0.property name should not exist"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role must be one of the following values"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content must be a string"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}, "max_tokens must not be less than 100"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}, "temperature must be a number"),
        ({"messages": [{"role": "user", "content": "hi"}], "top_p": 1}, "property top_p should not exist"),
    ],
)
def test_chat_bad_bodies(post_json, openai_fake, body, message) -> None:
    response = post_json("/chat/completions", body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["statusCode"] == 400 and payload["error"] == "Bad Request"
    assert any(m.startswith(message) for m in payload["message"]), payload["message"]
    assert openai_fake.requests == []


def test_chat_requires_messages(post_json) -> None:
    for body in ({}, {"messages": []}, {"messages": "hi"}):
        response = post_json("/chat/completions", body)
        assert response.status_code == 400
        assert any(m.startswith("messages") for m in response.json()["message"])


def test_image_without_key_is_503(post_json) -> None:
    response = post_json("/generation/image", {"prompt": "a cat"})
    assert response.status_code == 503
    assert "OPENAI_API_KEY" in response.json()["error"]


def test_image_with_openai(post_json, openai_fake) -> None:
    response = post_json("/generation/image", {"prompt": "a cat", "size": "1792x1024", "quality": "hd"})
    assert response.status_code == 201
    body = response.json()
    assert body["image_url"] == "http://127.0.0.1/image.png"
    assert body["revised_prompt"] == "A picture of a cat"
    assert body["size"] == "1792x1024"
    sent = openai_fake.requests[-1]["body"]
    assert sent["model"] == "dall-e-3" and sent["quality"] == "hd" and sent["style"] == "vivid" and sent["n"] == 1


def test_image_bad_size(post_json) -> None:
    response = post_json("/generation/image", {"prompt": "a cat", "size": "10x10"})
    assert response.status_code == 400
    assert response.json()["message"] == ["size must be one of the following values: 1024x1024, 1792x1024, 1024x1792"]
