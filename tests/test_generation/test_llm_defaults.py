"""DEFAULT_LLM_MODEL, DEFAULT_TEMPERATURE and DEFAULT_MAX_TOKENS reach the provider on every
generative route when the request leaves them out (checked on the fake OpenAI server's side)."""

from __future__ import annotations

import json

import pytest

from .test_generation_api import sse_events

DEFAULTS = {"DEFAULT_LLM_MODEL": "gpt-4.1-nano", "DEFAULT_TEMPERATURE": 0.25, "DEFAULT_MAX_TOKENS": 345}
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def upstream(openai_fake, settings):
    for name, value in DEFAULTS.items():
        setattr(settings, name, value)
    return openai_fake


def _sent(fake) -> tuple[str, float, int]:
    body = fake.requests[-1]["body"]
    return body["model"], body["temperature"], body.get("max_completion_tokens", body.get("max_tokens"))


EXPECTED = ("gpt-4.1-nano", 0.25, 345)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/generation/text", {"prompt": "Hello"}),
        ("/api/v1/generation/text", {"prompt": "Hello", "system_prompt": "Be brief."}),
        ("/chat/completions", {"messages": HELLO}),
        ("/analysis/generate", {"prompt": "Hello"}),
        ("/analysis/generate", {"prompt": "Hello", "context": "Greetings.", "model": None}),
    ],
)
def test_omitted_parameters_use_the_configured_defaults(post_json, upstream, path, body):
    response = post_json(path, body)
    assert response.status_code == (200 if path.startswith("/api/v1/") else 201), response.content
    assert _sent(upstream) == EXPECTED
    assert response.json()["model"].startswith("gpt-4.1-nano")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/generation/text", {"prompt": "Hello", "stream": True}),
        ("/chat/completions", {"messages": HELLO, "stream": True}),
        ("/analysis/generate", {"prompt": "Hello", "stream": True}),
    ],
)
def test_streamed_answers_use_the_defaults_too(post_json, upstream, path, body):
    events = sse_events(post_json(path, body))
    done = json.loads(next(data for name, data in events if name == "done"))
    assert _sent(upstream) == EXPECTED
    assert done["model"].startswith("gpt-4.1-nano")


def test_openai_compatible_route_uses_the_default_parameters(post_json, upstream):
    response = post_json("/v1/chat/completions", {"messages": HELLO, "model": "gpt-4o"})
    assert response.json()["model"] == "gpt-4o-fake-0001"
    assert _sent(upstream) == ("gpt-4o", 0.25, 345)


def test_openai_compatible_route_without_a_model_uses_the_default_model(post_json, upstream):
    response = post_json("/v1/chat/completions", {"messages": HELLO})
    assert response.status_code == 200, response.content
    assert _sent(upstream) == EXPECTED
    assert response.json()["model"] == "gpt-4.1-nano-fake-0001"
    streamed = post_json("/v1/chat/completions", {"messages": HELLO, "stream": True})
    first = json.loads(b"".join(streamed.streaming_content).decode().split("\n\n")[0][len("data: ") :])
    assert first["model"] == "gpt-4.1-nano"


def test_explicit_values_win_over_the_defaults(post_json, upstream):
    post_json("/chat/completions", {"messages": HELLO, "model": "gpt-4", "temperature": 1.5, "max_tokens": 150})
    assert _sent(upstream) == ("gpt-4", 1.5, 150)
    post_json("/generation/text", {"prompt": "Hi", "model": "gpt-4-turbo", "temperature": 0, "max_tokens": 100})
    assert _sent(upstream) == ("gpt-4-turbo", 0.0, 100)


def test_without_default_llm_model_the_provider_default_is_used(post_json, upstream, settings):
    settings.DEFAULT_LLM_MODEL = ""
    post_json("/generation/text", {"prompt": "Hello"})
    assert _sent(upstream)[0] == settings.OPENAI_DEFAULT_MODEL == "gpt-4o-mini"
