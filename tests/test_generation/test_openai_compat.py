"""POST /v1/chat/completions speaks OpenAI's wire format: the official openai client talks to it.

Our server runs in pytest-django's live_server; behind it the LLM service talks to a fake
Anthropic server, so the whole path (OpenAI client -> our API -> Anthropic SDK) is real HTTP.
"""

from __future__ import annotations

import openai
import pytest


@pytest.fixture
def client(live_server) -> openai.OpenAI:
    return openai.OpenAI(api_key="anything", base_url=f"{live_server.url}/v1", max_retries=0, timeout=30)


def test_openai_client_chat(client, anthropic_fake) -> None:
    completion = client.chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Ping"}],
        max_tokens=20,
    )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.choices[0].message.content == "Echo: Ping"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "claude-haiku-4-5-20991231"
    assert completion.usage.completion_tokens == 2
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 2
    assert anthropic_fake.requests[-1]["body"]["max_tokens"] == 20


def test_openai_client_streaming_with_usage(client, anthropic_fake) -> None:
    anthropic_fake.reply = lambda body: "streams are fun"
    stream = client.chat.completions.create(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": [{"type": "text", "text": "Go"}]}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "streams are fun"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3


@pytest.mark.parametrize("accept", ["text/event-stream", "text/plain", "application/xml"])
def test_any_accept_header_gets_the_stream_or_json_not_406(live_server, anthropic_fake, accept) -> None:
    """SSE clients (httpx-sse, EventSource) send Accept: text/event-stream; OpenAI's API answers them."""
    import httpx

    anthropic_fake.reply = lambda body: "accepted"
    body = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "Go"}], "stream": True}
    streamed = httpx.post(f"{live_server.url}/v1/chat/completions", json=body, headers={"Accept": accept}, timeout=30)
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    assert '"content":"accepted"' in streamed.text.replace(" ", "") and streamed.text.rstrip().endswith("data: [DONE]")
    models = httpx.get(f"{live_server.url}/v1/models", headers={"Accept": accept}, timeout=30)
    assert models.status_code == 200 and models.json()["object"] == "list"


def test_openai_client_sees_openai_shaped_errors(client) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503
    assert "OPENAI_API_KEY" in caught.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "robot", "content": "hi"}])
    assert bad.value.body["param"] == "messages.[0]"


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"tools": [WEATHER_TOOL]}, "tools"),
        ({"tools": [WEATHER_TOOL], "tool_choice": "auto", "stream": True}, "tools"),
        ({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, "tool_choice"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"functions": [WEATHER_TOOL["function"]]}, "functions"),
        ({"function_call": {"name": "get_weather"}}, "function_call"),
    ],
)
def test_tools_are_refused_not_ignored(client, anthropic_fake, extra, param) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="claude-haiku-4-5", messages=[{"role": "user", "content": "Weather in Oslo?"}], **extra
        )
    assert refused.value.body["param"] == param
    assert refused.value.body["type"] == "invalid_request_error"
    assert refused.value.message == (
        f"Error code: 400 - {param}: tool and function calling is not supported by this server "
        f"(the providers behind it are called without tools); send the request without {param}"
    )
    assert refused.value.response.headers["x-should-retry"] == "false"
    assert anthropic_fake.requests == []  # refused before any provider was called


def test_tool_results_are_refused_and_no_tool_requests_pass(client, anthropic_fake) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="claude-haiku-4-5",
            messages=[
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
        )
    assert refused.value.body["param"] == "messages.[1]"
    assert "tool and function results are not supported" in refused.value.message
    # tool_choice "none" (and an empty tools list) ask for no tool: served as a plain chat.
    completion = client.chat.completions.create(
        model="claude-haiku-4-5", messages=[{"role": "user", "content": "Ping"}], tools=[], tool_choice="none"
    )
    assert completion.choices[0].message.content == "Echo: Ping"


@pytest.mark.parametrize("role", [{}, ["user"], 1, None])
def test_a_role_that_is_not_a_string_is_a_400_in_openais_shape(client, anthropic_fake, role) -> None:
    # Found by schemathesis: an object as the role was looked up in a dict and answered 500.
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="claude-haiku-4-5", messages=[{"role": role, "content": "Hi"}])
    assert refused.value.body["param"] == "messages.[0]"
    assert refused.value.body["type"] == "invalid_request_error"
    assert "role must be one of system, developer, user, assistant" in refused.value.message
    assert anthropic_fake.requests == []
