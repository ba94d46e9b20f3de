"""Contract 4.2 endpoints, at the TS paths and under /api/v1, with the local model."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import override_settings

PREFIXES = ["", "/api/v1"]


def assert_contract_error(response, status: int, text: str) -> None:
    body = response.json()
    assert response.status_code == status, body
    assert body["success"] is False and body["statusCode"] == status
    flat = " ".join(body["message"]) if isinstance(body.get("message"), list) else body["error"]
    assert text in flat, body


@pytest.fixture(autouse=True)
def _local_only(settings, embedder) -> None:
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    settings.EMBEDDING_MODEL = ""


@pytest.mark.parametrize("prefix", PREFIXES)
def test_generate_returns_the_local_vector(post_json, embedder, prefix: str) -> None:
    response = post_json(f"{prefix}/embeddings/generate", {"text": "  The cat sat on the mat.  "})
    assert response.status_code == (200 if prefix else 201), response.json()
    body = response.json()
    assert set(body) == {"success", "embedding", "model", "dimensions"}
    assert body["success"] is True and body["model"] == "all-MiniLM-L6-v2" and body["dimensions"] == 384
    vector = np.array(body["embedding"], dtype=np.float32)
    expected = embedder.embed_one("The cat sat on the mat.").vectors[0]  # trimmed before embedding
    np.testing.assert_allclose(vector, expected, atol=1e-6)
    assert abs(np.linalg.norm(vector) - 1) < 1e-5


def test_generate_accepts_local_model_aliases(post_json) -> None:
    response = post_json("/embeddings/generate", {"text": "hello", "model": "sentence-transformers/all-MiniLM-L6-v2"})
    assert response.status_code == 201 and response.json()["model"] == "all-MiniLM-L6-v2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "   "}, "text should not be empty"),
        ({}, "text must be a string"),
        ({"text": 42}, "text must be a string"),
        ({"text": "hi", "colour": "red"}, "property colour should not exist"),
    ],
)
def test_generate_rejects_bad_bodies(post_json, body, message: str) -> None:
    assert_contract_error(post_json("/embeddings/generate", body), 400, message)


def test_generate_unknown_model_lists_available_models(post_json) -> None:
    response = post_json("/api/v1/embeddings/generate", {"text": "hi", "model": "gpt-embed-9000"})
    assert_contract_error(response, 400, "Unknown embedding model 'gpt-embed-9000'. Available models: all-MiniLM-L6-v2")


def test_openai_model_without_key_is_503(post_json) -> None:
    response = post_json("/embeddings/generate", {"text": "hi", "model": "text-embedding-3-small"})
    assert_contract_error(response, 503, "OPENAI_API_KEY")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_batch_drops_blank_texts_and_keeps_order(post_json, embedder, prefix: str) -> None:
    texts = ["first text", "  ", "second text", "", "third text"]
    response = post_json(f"{prefix}/embeddings/batch", {"texts": texts})
    assert response.status_code == (200 if prefix else 201), response.json()
    body = response.json()
    assert body["count"] == 3 and body["dimensions"] == 384 and body["model"] == "all-MiniLM-L6-v2"
    expected = embedder.embed(["first text", "second text", "third text"]).vectors
    np.testing.assert_allclose(np.array(body["embeddings"], dtype=np.float32), expected, atol=1e-6)


def test_batch_of_100_is_accepted_and_101_rejected(post_json) -> None:
    texts = [f"sentence number {i} about topic {i % 7}" for i in range(101)]
    ok = post_json("/embeddings/batch", {"texts": texts[:100]})
    assert ok.status_code == 201 and ok.json()["count"] == 100
    assert len({tuple(np.round(v[:5], 4)) for v in ok.json()["embeddings"]}) == 100
    assert_contract_error(
        post_json("/embeddings/batch", {"texts": texts}), 400, "texts must contain no more than 100 elements"
    )


def test_batch_edge_cases(post_json) -> None:
    empty = post_json("/embeddings/batch", {"texts": []})
    assert empty.status_code == 201
    assert empty.json() == {"success": True, "embeddings": [], "model": "all-MiniLM-L6-v2", "dimensions": 0, "count": 0}
    assert_contract_error(
        post_json("/embeddings/batch", {"texts": [" ", "\n"]}), 400, "Cannot generate embeddings for empty texts"
    )
    assert_contract_error(
        post_json("/embeddings/batch", {"texts": ["ok", 3]}), 400, "each value in texts must be a string"
    )
    assert_contract_error(post_json("/embeddings/batch", {"texts": "ok"}), 400, "texts must be an array")
    assert_contract_error(post_json("/embeddings/batch", {"texts": ["ok"], "model": "nope"}), 400, "Available models")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_similarity_is_raw_cosine(post_json, prefix: str) -> None:
    def similarity(first: str, second: str) -> float:
        response = post_json(f"{prefix}/embeddings/similarity", {"text1": first, "text2": second})
        assert response.status_code == (200 if prefix else 201), response.json()
        assert response.json()["model"] == "all-MiniLM-L6-v2"
        return response.json()["similarity"]

    related = similarity("A man is playing a guitar.", "Someone plays a musical instrument.")
    unrelated = similarity("A man is playing a guitar.", "The bank raised interest rates.")
    assert related > 0.4 and unrelated < 0.2 and related > unrelated + 0.3
    assert similarity("same words", "same words") == pytest.approx(1.0, abs=1e-5)
    # Raw cosine, not clipped to [0, 1]: some pairs of unrelated texts are negative.
    pairs = [("zebra", "quantum chromodynamics lecture"), ("hot", "cold"), ("asdf qwer", "The Eiffel Tower")]
    assert all(-1.0 <= similarity(a, b) <= 1.0 for a, b in pairs)


def test_similarity_rejects_blank_text(post_json) -> None:
    assert_contract_error(
        post_json("/embeddings/similarity", {"text1": "ok", "text2": " "}), 400, "text2 should not be empty"
    )
    assert_contract_error(post_json("/embeddings/similarity", {"text1": "ok"}), 400, "text2 must be a string")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_models_lists_only_the_local_model_without_a_key(api, prefix: str) -> None:
    response = api.get(f"{prefix}/embeddings/models")
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "models": [
            {
                "id": "all-MiniLM-L6-v2",
                "dimensions": 384,
                "maxTokens": 256,
                "provider": "local",
                "description": "sentence-transformers all-MiniLM-L6-v2, runs locally on CPU (no API key needed)",
            }
        ],
        "default": "all-MiniLM-L6-v2",
    }


@override_settings(OPENAI_API_KEY="sk-test")
def test_models_lists_openai_models_with_a_key(api) -> None:
    body = api.get("/embeddings/models").json()
    assert [m["id"] for m in body["models"]] == [
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "all-MiniLM-L6-v2",
    ]
    assert body["models"][1] == {
        "id": "text-embedding-3-large",
        "dimensions": 3072,
        "maxTokens": 8191,
        "provider": "openai",
        "description": "Highest accuracy embedding model",
    }
    assert body["default"] == "text-embedding-3-small"


def test_health_reports_embeddings(api) -> None:
    health = api.get("/health").json()
    assert health["services"]["embeddings"] is True
    assert health["config"]["embeddingDefaultModel"] == "all-MiniLM-L6-v2"
    ready = api.get("/health/ready").json()
    assert ready["checks"]["embedding_model"]["ok"] is True


def test_health_flag_is_false_when_the_default_model_cannot_serve(api, settings) -> None:
    settings.EMBEDDING_MODEL = "text-embedding-3-small"  # no key configured
    assert api.get("/health").json()["services"]["embeddings"] is False


@pytest.mark.django_db
def test_generate_goes_through_the_guides_service_class(api) -> None:
    """The view calls EmbeddingService.get_instance().generate_embedding through async_to_sync."""
    from unittest.mock import AsyncMock, MagicMock, patch

    with patch("embeddings.views.EmbeddingService") as service_class:
        service = MagicMock()
        service.generate_embedding = AsyncMock(return_value=[0.25] * 8)
        service_class.get_instance.return_value = service
        response = api.post("/api/v1/embeddings/generate", {"text": "  Hello world "}, format="json")
    assert response.status_code == 200
    assert response.json() == {"success": True, "embedding": [0.25] * 8, "model": "all-MiniLM-L6-v2", "dimensions": 8}
    service.generate_embedding.assert_awaited_once_with("Hello world", None)


@pytest.mark.django_db
def test_generate_answers_201_at_the_gateway_path_and_200_under_api_v1(api) -> None:
    gateway = api.post("/embeddings/generate", {"text": "status codes"}, format="json")
    versioned = api.post("/api/v1/embeddings/generate", {"text": "status codes"}, format="json")
    assert (gateway.status_code, versioned.status_code) == (201, 200)
    assert gateway.json()["embedding"] == versioned.json()["embedding"]
    assert len(gateway.json()["embedding"]) == gateway.json()["dimensions"] == 384
