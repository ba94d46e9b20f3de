"""The LLM service against fake OpenAI and Anthropic servers: routing, usage, streaming, errors."""

from __future__ import annotations

import pytest

from mlservice.core.errors import BadRequest, ServiceUnavailable, UpstreamError
from services import llm_service

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]


def test_nothing_configured_is_unavailable_and_names_the_settings() -> None:
    llm = llm_service.get_instance()
    assert llm.is_available() is False
    with pytest.raises(ServiceUnavailable) as caught:
        llm.chat(HELLO)
    for setting in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "DEFAULT_LLM_MODEL"):
        assert setting in caught.value.message


def test_openai_chat_returns_content_model_and_usage(openai_fake) -> None:
    result = llm_service.get_instance().chat(HELLO, model="gpt-4o-mini", temperature=0.2, max_tokens=50)
    assert result.content == "Echo: Say hello"
    assert result.model == "gpt-4o-mini-fake-0001"
    assert result.finish_reason == "stop"
    assert result.usage["completion_tokens"] == 3
    assert result.usage["total_tokens"] == result.usage["prompt_tokens"] + 3
    sent = openai_fake.requests[-1]["body"]
    assert sent["messages"] == HELLO
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 50
    assert openai_fake.headers[-1]["authorization"] == "Bearer sk-test"


def test_openai_json_mode_and_reasoning_model_parameters(openai_fake) -> None:
    llm = llm_service.get_instance()
    llm.chat(HELLO, model="gpt-4o-mini", json_mode=True)
    assert openai_fake.requests[-1]["body"]["response_format"] == {"type": "json_object"}
    llm.chat(HELLO, model="gpt-5.2", max_tokens=70)
    body = openai_fake.requests[-1]["body"]
    assert body["max_completion_tokens"] == 70
    assert "max_tokens" not in body and "temperature" not in body


def test_openai_stream_yields_deltas_then_usage(openai_fake) -> None:
    openai_fake.reply = lambda body: "one two three"
    deltas = list(llm_service.get_instance().stream_chat(HELLO, model="gpt-4o"))
    assert "".join(d.content for d in deltas) == "one two three"
    assert [d.done for d in deltas] == [False, False, False, True]
    final = deltas[-1]
    assert final.usage["completion_tokens"] == 3 and final.finish_reason == "stop"
    assert final.model == "gpt-4o-fake-0001"


def test_default_model_follows_the_keys(openai_fake, settings) -> None:
    llm = llm_service.get_instance()
    assert llm.chat(HELLO).model == "gpt-4o-mini-fake-0001"
    settings.DEFAULT_LLM_MODEL = "gpt-4-turbo"
    assert llm.chat(HELLO).model == "gpt-4-turbo-fake-0001"


def test_unknown_model_goes_to_the_compatible_server(openai_fake, settings) -> None:
    settings.OPENAI_API_KEY = ""  # an Ollama-like server: base URL only, no key
    result = llm_service.get_instance().chat(HELLO, model="llama3.2")
    assert result.model == "llama3.2-fake-0001"
    assert openai_fake.headers[-1]["authorization"] == "Bearer not-needed"


def test_server_errors_are_retried_with_backoff(openai_fake) -> None:
    openai_fake.fail_next(500, "temporary failure")
    result = llm_service.get_instance().chat(HELLO)
    assert result.content == "Echo: Say hello"
    assert len(openai_fake.requests) == 2


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (500, UpstreamError, ["OpenAI generation failed (500)", "kaput"]),
        (400, BadRequest, ["rejected the generation request (400)", "kaput"]),
        (429, ServiceUnavailable, ["rate limiting", "429"]),
        (401, ServiceUnavailable, ["rejected the credentials", "OPENAI_API_KEY"]),
    ],
)
def test_openai_errors_map_to_400_502_and_503(openai_fake, status, error, words) -> None:
    openai_fake.fail_next(status, "kaput", times=3)
    with pytest.raises(error) as caught:
        llm_service.get_instance().chat(HELLO)
    assert all(word in caught.value.message for word in words)
    assert caught.value.status_code == {UpstreamError: 502, ServiceUnavailable: 503, BadRequest: 400}[error]


def test_unreachable_server_is_a_503_naming_the_url_setting(openai_fake, settings) -> None:
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    settings.PROVIDER_MAX_RETRIES = 0
    with pytest.raises(ServiceUnavailable) as caught:
        llm_service.get_instance().chat(HELLO)
    assert "OPENAI_BASE_URL" in caught.value.message


def test_anthropic_chat_moves_system_prompt_and_reports_usage(anthropic_fake) -> None:
    result = llm_service.get_instance().chat(HELLO, model="claude-sonnet-4-6", temperature=1.5, json_mode=True)
    assert result.content == "Echo: Say hello"
    assert result.model == "claude-sonnet-4-6-20991231"
    assert result.finish_reason == "stop"
    assert result.usage["completion_tokens"] == 3
    sent = anthropic_fake.requests[-1]["body"]
    assert sent["system"].startswith("Be brief.") and "JSON" in sent["system"]
    assert sent["messages"] == [{"role": "user", "content": "Say hello"}]
    assert "temperature" not in sent  # current Claude models take no sampling parameters
    assert anthropic_fake.headers[-1]["authorization"] == "Bearer sk-ant-test"


def test_anthropic_is_the_default_with_only_its_key(anthropic_fake) -> None:
    assert llm_service.get_instance().chat(HELLO).model == "claude-haiku-4-5-20991231"


def test_anthropic_stream(anthropic_fake) -> None:
    anthropic_fake.reply = lambda body: "alpha beta"
    deltas = list(llm_service.get_instance().stream_chat(HELLO, model="claude-haiku-4-5"))
    assert [d.content for d in deltas[:-1]] == ["alpha ", "beta"]
    assert deltas[-1].done and deltas[-1].usage["completion_tokens"] == 2
    assert deltas[-1].usage["prompt_tokens"] > 0


@pytest.mark.parametrize(
    ("status", "error"),
    [(529, UpstreamError), (500, UpstreamError), (429, ServiceUnavailable), (401, ServiceUnavailable)],
)
def test_anthropic_errors_map_to_502_and_503(anthropic_fake, status, error) -> None:
    anthropic_fake.fail_next(status, "nope", times=3, error_type="overloaded_error")
    with pytest.raises(error) as caught:
        llm_service.get_instance().chat(HELLO)
    assert "Anthropic" in caught.value.message and "nope" in caught.value.message


def test_gpt_name_without_openai_key_falls_back_to_the_configured_provider(anthropic_fake, settings) -> None:
    result = llm_service.get_instance().chat(HELLO, model="gpt-4o-mini")
    assert result.model.startswith("claude-haiku-4-5")
    settings.LLM_FALLBACK_TO_DEFAULT = False
    with pytest.raises(ServiceUnavailable, match="OPENAI_API_KEY"):
        llm_service.get_instance().chat(HELLO, model="gpt-4o-mini")
