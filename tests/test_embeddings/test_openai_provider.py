"""The OpenAI provider through the official SDK against a real fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest

from services import embedding_service

from .fake_openai import FakeOpenAI, fake_vector


def test_generate_with_openai_model(post_json, fake_openai: FakeOpenAI) -> None:
    response = post_json("/embeddings/generate", {"text": " hello world ", "model": "text-embedding-3-small"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["model"] == "text-embedding-3-small" and body["dimensions"] == 1536
    np.testing.assert_allclose(body["embedding"], fake_vector("hello world", "text-embedding-3-small", 1536), atol=1e-6)
    [request] = fake_openai.requests
    assert request.path == "/v1/embeddings"
    assert request.headers["authorization"] == "Bearer sk-test-key"
    assert request.body == {"input": ["hello world"], "model": "text-embedding-3-small", "encoding_format": "float"}


def test_default_model_is_openai_when_a_key_is_set(post_json, fake_openai: FakeOpenAI) -> None:
    response = post_json("/api/v1/embeddings/batch", {"texts": ["alpha", "beta"]})
    assert response.status_code == 200
    assert response.json()["model"] == "text-embedding-3-small" and response.json()["count"] == 2
    # The fake answers in reverse order; vectors must come back in input order.
    np.testing.assert_allclose(
        response.json()["embeddings"][1], fake_vector("beta", "text-embedding-3-small", 1536), atol=1e-6
    )


def test_embedding_dimensions_setting_only_for_v3_models(fake_openai: FakeOpenAI, settings) -> None:
    settings.EMBEDDING_DIMENSIONS = 256
    service = embedding_service.get_instance()
    result = service.embed(["short vector"], "text-embedding-3-large")
    assert result.vectors.shape == (1, 256) and fake_openai.requests[-1].body["dimensions"] == 256
    assert result.prompt_tokens == 2
    legacy = service.embed(["short vector"], "text-embedding-ada-002")
    assert legacy.vectors.shape == (1, 1536) and "dimensions" not in fake_openai.requests[-1].body


def test_inputs_are_sent_in_batches(fake_openai: FakeOpenAI, settings) -> None:
    settings.EMBEDDING_OPENAI_BATCH_SIZE = 3
    texts = [f"text {i}" for i in range(7)]
    result = embedding_service.get_instance().embed(texts, "text-embedding-3-small")
    assert [len(r.body["input"]) for r in fake_openai.requests] == [3, 3, 1]
    expected = np.stack([fake_vector(t, "text-embedding-3-small", 1536) for t in texts])
    np.testing.assert_allclose(result.vectors, expected, atol=1e-6)
    assert result.prompt_tokens == 14


def test_rate_limit_is_retried(post_json, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(429, "Rate limit reached", {"retry-after-ms": "10"})
    fake_openai.fail_next(503, "overloaded", {"retry-after-ms": "10"})
    response = post_json("/embeddings/generate", {"text": "retry me", "model": "text-embedding-3-small"})
    assert response.status_code == 201, response.json()
    assert len(fake_openai.requests) == 3
    np.testing.assert_allclose(
        response.json()["embedding"], fake_vector("retry me", "text-embedding-3-small", 1536), atol=1e-6
    )


def test_persistent_server_error_is_502(post_json, fake_openai: FakeOpenAI, settings) -> None:
    settings.PROVIDER_MAX_RETRIES = 1
    for _ in range(2):
        fake_openai.fail_next(500, "The server had an error", {"retry-after-ms": "10"})
    response = post_json("/embeddings/generate", {"text": "x", "model": "text-embedding-3-small"})
    body = response.json()
    assert response.status_code == 502, body
    assert body == {
        "success": False,
        "error": "OpenAI-compatible server embedding (text-embedding-3-small) failed (500): The server had an error",
        "statusCode": 502,
    }
    assert len(fake_openai.requests) == 2


def test_bad_key_is_503_naming_the_setting(post_json, fake_openai: FakeOpenAI) -> None:
    # Unusable as configured (services/provider_errors.py): 503, like every provider.
    fake_openai.fail_next(401, "Incorrect API key provided: sk-test****")
    response = post_json("/embeddings/batch", {"texts": ["x"], "model": "text-embedding-3-small"})
    assert response.status_code == 503
    assert "Incorrect API key provided" in response.json()["error"] and "OPENAI_API_KEY" in response.json()["error"]
    assert len(fake_openai.requests) == 1  # 401 is not retried


def test_rejected_input_is_400(post_json, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next(400, "This model's maximum context length is 8192 tokens")
    response = post_json("/embeddings/generate", {"text": "long", "model": "text-embedding-3-small"})
    assert response.status_code == 400
    assert "maximum context length" in response.json()["error"]


def test_unreachable_server_is_503(post_json, settings, closed_port: int) -> None:
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{closed_port}/v1"
    settings.PROVIDER_MAX_RETRIES = 0
    response = post_json("/embeddings/generate", {"text": "x"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error.startswith("OpenAI-compatible server could not be reached")
    assert "OPENAI_BASE_URL" in error


def test_compatible_server_model_from_configuration(api, post_json, fake_openai: FakeOpenAI, settings) -> None:
    settings.OPENAI_API_KEY = ""  # Ollama-style: a base URL, no key
    settings.EMBEDDING_MODEL = "nomic-embed-text"
    response = post_json("/embeddings/generate", {"text": "local server"})
    assert response.status_code == 201, response.json()
    assert response.json()["model"] == "nomic-embed-text" and response.json()["dimensions"] == 768
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer not-needed"
    ids = [m["id"] for m in api.get("/embeddings/models").json()["models"]]
    assert ids == [
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "nomic-embed-text",
        "all-MiniLM-L6-v2",
    ]


def test_cached_vectors_are_not_requested_again(fake_openai: FakeOpenAI) -> None:
    service = embedding_service.get_instance()
    first = service.embed(["cache me", "and me"], "text-embedding-3-small")
    second = service.embed(["and me", "cache me", "new one"], "text-embedding-3-small")
    assert [r.body["input"] for r in fake_openai.requests] == [["cache me", "and me"], ["new one"]]
    np.testing.assert_array_equal(second.vectors[0], first.vectors[1])
    assert second.prompt_tokens == 2 + 2 + 2


@pytest.mark.parametrize("model", ["all-MiniLM-L6-v2"])
def test_local_model_still_available_with_a_key(post_json, fake_openai: FakeOpenAI, embedder, model: str) -> None:
    response = post_json("/embeddings/generate", {"text": "local please", "model": model})
    assert response.status_code == 201 and response.json()["dimensions"] == 384
    assert fake_openai.requests == []
