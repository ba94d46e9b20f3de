"""GET /v1/models and /v1/models/{id} in OpenAI's format, read by the official openai client
against a real server (pytest-django's live_server): the list holds what this instance serves."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

LOCAL_LLM = "smollm2-135m-instruct"  # installed with the dev requirements; its files are only looked at


@pytest.fixture
def client(live_server) -> openai.OpenAI:
    return openai.OpenAI(api_key="anything", base_url=f"{live_server.url}/v1", max_retries=0, timeout=30)


@pytest.fixture(autouse=True)
def tiny_whisper(settings) -> None:
    settings.TRANSCRIPTION_LOCAL_MODEL = "tiny.en"  # listed as whisper-tiny.en


@pytest.fixture
def local_llm(settings) -> str:
    settings.LOCAL_LLM_MODEL = LOCAL_LLM
    return LOCAL_LLM


def _ids(client: openai.OpenAI) -> dict[str, str]:
    return {model.id: model.owned_by for model in client.models.list()}


def test_with_no_keys_the_list_is_the_local_models(client, local_llm) -> None:
    before = int(time.time())
    page = client.models.list()
    assert [(m.id, m.owned_by, m.object) for m in page.data] == [
        (LOCAL_LLM, "local", "model"),
        ("all-MiniLM-L6-v2", "local", "model"),
        ("whisper-tiny.en", "local", "model"),
    ]
    assert all(isinstance(m.created, int) and 1_700_000_000 < m.created <= before + 1 for m in page.data)
    # The wire body is OpenAI's, field for field.
    raw = httpx.get(f"{client.base_url}models").json()
    assert raw["object"] == "list"
    assert set(raw["data"][0]) == {"id", "object", "created", "owned_by"}


def test_a_turned_off_local_llm_is_not_listed(client) -> None:
    assert list(_ids(client)) == ["all-MiniLM-L6-v2", "whisper-tiny.en"]


def test_configured_providers_add_their_models(client, local_llm, openai_fake, anthropic_fake) -> None:
    assert _ids(client) == {
        "gpt-4o-mini": "openai",
        "gpt-3.5-turbo": "openai",
        "gpt-4-turbo": "openai",
        "gpt-4": "openai",
        "claude-haiku-4-5": "anthropic",
        LOCAL_LLM: "local",
        "text-embedding-3-small": "openai",
        "text-embedding-3-large": "openai",
        "text-embedding-ada-002": "openai",
        "all-MiniLM-L6-v2": "local",
        "whisper-1": "openai",
        "gpt-4o-transcribe": "openai",
        "gpt-4o-mini-transcribe": "openai",
        "whisper-tiny.en": "local",
    }


def test_an_openai_compatible_server_lists_its_default_model(client, settings) -> None:
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # never called: the list costs no request
    settings.DEFAULT_LLM_MODEL = "library/llama3.2:1b"
    ids = _ids(client)
    assert ids["library/llama3.2:1b"] == "openai-compatible"
    assert ids["gpt-4o-mini"] == "openai"  # OPENAI_DEFAULT_MODEL goes to the same server
    assert "gpt-4" not in ids  # the /generation/models extras need a real OpenAI key
    # An id with a slash is one path segment to the client and to our route.
    model = client.models.retrieve("library/llama3.2:1b")
    assert (model.id, model.owned_by, model.object) == ("library/llama3.2:1b", "openai-compatible", "model")


def test_the_multilingual_whisper_is_listed_by_its_name(client, settings) -> None:
    settings.TRANSCRIPTION_LOCAL_MODEL = "base"
    assert list(_ids(client)) == ["all-MiniLM-L6-v2", "whisper-base"]


def test_retrieve_and_unknown_ids(client, local_llm) -> None:
    model = client.models.retrieve("whisper-tiny.en")
    assert (model.id, model.object, model.owned_by) == ("whisper-tiny.en", "model", "local")
    assert model.created == client.models.list().data[0].created
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("gpt-4")  # no OpenAI key: not served here
    assert missing.value.message == "Error code: 404 - The model 'gpt-4' does not exist"
    assert missing.value.body == {
        "message": "The model 'gpt-4' does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": None,
    }
    assert missing.value.response.headers["x-should-retry"] == "false"
