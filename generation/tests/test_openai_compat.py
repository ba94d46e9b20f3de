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


def test_openai_client_sees_openai_shaped_errors(client) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503
    assert "OPENAI_API_KEY" in caught.value.message
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "robot", "content": "hi"}])
    assert bad.value.body["param"] == "messages.[0]"
