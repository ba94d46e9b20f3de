"""Every /v1/* route answers errors in OpenAI's envelope, so the official openai client raises the
right exception class with our message and retries exactly when a retry can help (issue 12).

The client talks to a real server (pytest-django's live_server); the handler is shared by
/v1/chat/completions and /v1/embeddings, so each case runs on both where it applies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from django.core.cache import caches
from rest_framework import exceptions

from mlservice.api.auth import IpRateThrottle
from mlservice.api.exceptions import openai_exception_handler
from mlservice.core.errors import BadRequest, NotConfigured, ServiceUnavailable
from services import auth_service

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def _client(live_server, key: str = "anything", **kwargs) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(api_key=key, base_url=f"{live_server.url}/v1", timeout=30, **kwargs)


def _chat(client: openai.OpenAI, **extra: object) -> object:
    return client.chat.completions.create(**CHAT, **extra)


def _embed(client: openai.OpenAI, **extra: object) -> object:
    return client.embeddings.create(input="hello", model="all-MiniLM-L6-v2", **extra)


def _embed_with_openai(client: openai.OpenAI) -> object:
    return client.embeddings.create(input="hello", model="text-embedding-3-small")


@pytest.fixture
def keys_required(settings) -> Iterator[str]:
    settings.ML_SERVICE_API_KEYS = ["sk-right-key"]
    auth_service.get_instance().invalidate()
    yield "sk-right-key"
    settings.ML_SERVICE_API_KEYS = []
    auth_service.get_instance().invalidate()


@pytest.fixture
def throttled(settings, monkeypatch) -> Iterator[None]:
    """One request per client IP every 3 s: longer than the SDK's own backoff (0.5 s, then 1 s)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": None, "ip": "1/s"}}
    monkeypatch.setattr(IpRateThrottle, "parse_rate", lambda self, rate: (1, 3) if rate else (None, None))
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


@pytest.mark.parametrize("call", [_chat, _embed], ids=["chat", "embeddings"])
def test_wrong_and_missing_keys_are_authentication_errors(live_server, keys_required, call) -> None:
    with pytest.raises(openai.AuthenticationError) as wrong:
        call(_client(live_server, "sk-wrong-key", max_retries=2))
    # The SDK reads the message out of the envelope (it prints the whole body when it cannot).
    assert wrong.value.message == "Error code: 401 - Invalid API key"
    assert wrong.value.body == {
        "message": "Invalid API key",
        "type": "authentication_error",
        "param": None,
        "code": "invalid_api_key",
    }
    assert wrong.value.response.headers["x-should-retry"] == "false"
    assert wrong.value.response.headers["www-authenticate"].startswith("Bearer")
    with pytest.raises(openai.AuthenticationError) as missing:
        call(_client(live_server), extra_headers={"Authorization": openai.omit})
    assert missing.value.message.startswith("Error code: 401 - Missing API key: send 'Authorization: Bearer <key>'")


@pytest.mark.parametrize("path", ["/chat/completions", "/embeddings"])
def test_malformed_json_is_a_bad_request_error(live_server, path: str) -> None:
    client = _client(live_server)
    with pytest.raises(openai.BadRequestError) as bad:
        client.post(
            path,
            cast_to=httpx.Response,
            content=b'{"model": ',
            options={"headers": {"Content-Type": "application/json"}},
        )
    assert bad.value.message.startswith("Error code: 400 - Invalid JSON body: unexpected end of data")
    assert bad.value.body["type"] == "invalid_request_error"
    assert bad.value.response.headers["x-should-retry"] == "false"


def test_validation_errors_name_the_parameter(live_server) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        _client(live_server).chat.completions.create(model="gpt-4o-mini", messages=[])
    assert bad.value.message == "Error code: 400 - messages must be a non-empty array"
    assert bad.value.body["param"] == "messages"


def test_unknown_v1_route_is_an_openai_not_found(live_server) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        _client(live_server).files.list()
    assert missing.value.message == "Error code: 404 - Cannot GET /v1/files"
    assert missing.value.body["type"] == "invalid_request_error"


def test_429_keeps_retry_after_and_the_sdk_waits_for_it(live_server, throttled) -> None:
    client = _client(live_server, max_retries=2)
    _embed(client)
    started = time.perf_counter()
    response = _embed(client)  # throttled once, retried after Retry-After (3 s), then served
    waited = time.perf_counter() - started
    assert response.data[0].index == 0
    assert 2.0 <= waited < 10, waited
    caches["throttle"].clear()
    _embed(client)
    with pytest.raises(openai.RateLimitError) as limited:
        _chat(_client(live_server))
    assert limited.value.response.headers["retry-after"] in {"1", "2", "3"}
    assert "x-should-retry" not in limited.value.response.headers
    assert limited.value.body["type"] == "rate_limit_error" and "throttled" in limited.value.message


@pytest.mark.parametrize(
    ("call", "words"),
    [(_chat, "No language model is configured"), (_embed_with_openai, "OPENAI_API_KEY")],
    ids=["chat", "embeddings"],
)
def test_not_configured_is_not_retried(live_server, call, words: str) -> None:
    client = _client(live_server, max_retries=2)  # the SDK's default retry budget
    started = time.perf_counter()
    with pytest.raises(openai.InternalServerError) as unavailable:
        call(client)
    elapsed = time.perf_counter() - started
    assert unavailable.value.status_code == 503 and words in unavailable.value.message
    assert unavailable.value.response.headers["x-should-retry"] == "false"
    assert unavailable.value.body["type"] == "api_error"
    assert elapsed < 1.0, f"the SDK retried for {elapsed:.2f} s"


def test_handler_marks_only_permanent_errors_as_final() -> None:
    transient = openai_exception_handler(ServiceUnavailable("Vector store error: down"))
    assert transient.status_code == 503 and "x-should-retry" not in transient
    assert transient.data["error"]["message"] == "Vector store error: down"
    final = openai_exception_handler(NotConfigured("set OPENAI_API_KEY"))
    assert final.status_code == 503 and final["x-should-retry"] == "false"
    throttled = openai_exception_handler(exceptions.Throttled(wait=41.2))
    assert throttled["Retry-After"] == "42" and "x-should-retry" not in throttled
    bad = openai_exception_handler(BadRequest("no", param="input"))
    assert bad.data == {"error": {"message": "no", "type": "invalid_request_error", "param": "input", "code": None}}
    assert bad["x-should-retry"] == "false"
