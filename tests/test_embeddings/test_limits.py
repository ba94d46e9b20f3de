"""Texts too long to embed are refused with 413 before anything tokenises them (issue 12): a 9.9 MB
text to /embeddings/generate was tokenised in full (21.9 s, a 2.2 GB peak the worker kept)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings

from services.embedding_service import EmbeddingService


@pytest.fixture
def no_embedding(monkeypatch) -> None:
    """Fail the test if a refused request reached the model (the point is not to tokenise)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the text reached the embedding model")

    monkeypatch.setattr(EmbeddingService, "embed", refuse)


def _413(response) -> str:
    assert response.status_code == 413, response.content[:300]
    body = response.json()
    assert body["success"] is False and body["statusCode"] == 413
    return body["error"]


def test_defaults_cover_the_model_window_amply() -> None:
    # 256 tokens are about 1-2k characters; OpenAI's 8191-token models about 32k.
    assert django_settings.EMBEDDING_MAX_TEXT_CHARS == 100_000
    assert django_settings.EMBEDDING_MAX_REQUEST_CHARS == 1_000_000


def test_a_9_9_mb_text_is_refused_fast(post_json, no_embedding) -> None:
    started = time.perf_counter()
    message = _413(post_json("/embeddings/generate", {"text": "word " * 1_980_000}))
    assert message == "text is 9900000 characters; the limit is 100000 (EMBEDDING_MAX_TEXT_CHARS)"
    assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/embeddings/generate", {"text": "x" * 1001}, "text is 1001 characters; the limit is 1000"),
        ("/embeddings/batch", {"texts": ["ok", "x" * 1001]}, "texts[1] is 1001 characters; the limit is 1000"),
        ("/embeddings/similarity", {"text1": "ok", "text2": "x" * 1001}, "text2 is 1001 characters"),
        ("/api/v1/embeddings/similarity", {"text1": "x" * 1001, "text2": "ok"}, "text1 is 1001 characters"),
    ],
)
def test_texts_over_the_limit_are_413(post_json, settings, no_embedding, path: str, body: dict, message: str) -> None:
    settings.EMBEDDING_MAX_TEXT_CHARS = 1000
    assert _413(post_json(path, body)).startswith(message)


def test_batch_over_the_request_limit_is_413(post_json, settings, no_embedding) -> None:
    settings.EMBEDDING_MAX_REQUEST_CHARS = 2500
    message = _413(post_json("/embeddings/batch", {"texts": ["x" * 1000] * 3}))
    assert message == "texts hold 3000 characters together; the limit per request is 2500 (EMBEDDING_MAX_REQUEST_CHARS)"


def test_texts_at_the_limit_are_embedded(post_json, settings, embedder) -> None:
    settings.EMBEDDING_MAX_TEXT_CHARS = 1000
    settings.EMBEDDING_MAX_REQUEST_CHARS = 2000
    assert post_json("/embeddings/generate", {"text": "y" * 1000}).status_code == 201
    batch = post_json("/embeddings/batch", {"texts": ["y" * 1000, "z" * 1000]})
    assert batch.status_code == 201 and batch.json()["count"] == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "x" * 1001}, "input is 1001 characters; the limit is 1000 (EMBEDDING_MAX_TEXT_CHARS)"),
        ({"input": ["ok", "x" * 1001]}, "input[1] is 1001 characters; the limit is 1000 (EMBEDDING_MAX_TEXT_CHARS)"),
        (
            {"input": ["x" * 900] * 3},
            "input hold 2700 characters together; the limit per request is 2000 (EMBEDDING_MAX_REQUEST_CHARS)",
        ),
    ],
)
def test_openai_route_over_the_limits_is_413_in_openai_shape(
    post_json, settings, no_embedding, body: dict, message: str
) -> None:
    settings.EMBEDDING_MAX_TEXT_CHARS = 1000
    settings.EMBEDDING_MAX_REQUEST_CHARS = 2000
    response = post_json("/v1/embeddings", body)
    assert response.status_code == 413
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }
    assert response["x-should-retry"] == "false"
