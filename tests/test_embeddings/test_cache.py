"""Vector cache: hits and misses in a real Redis (DB 11), and a dead Redis degrading to no cache."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import numpy as np
import pytest
from django.core.cache import caches
from django.test import override_settings

from services import embedding_service
from services.embeddings.cache import VectorCache

from .fake_openai import FakeOpenAI, fake_vector


def redis_caches(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "mlservice-embeddings-test",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


@pytest.fixture
def redis_url(require_service) -> str:
    parsed = urlparse(require_service("redis"))
    return f"redis://{parsed.hostname}:{parsed.port or 6379}/11"


def test_redis_hits_and_misses(redis_url: str, fake_openai: FakeOpenAI) -> None:
    with override_settings(CACHES=redis_caches(redis_url)):
        caches["default"].clear()
        service = embedding_service.get_instance()
        first = service.embed(["red", "green"], "text-embedding-3-small")
        again = service.embed(["green", "red", "blue"], "text-embedding-3-small")
        assert [r.body["input"] for r in fake_openai.requests] == [["red", "green"], ["blue"]]
        np.testing.assert_array_equal(again.vectors[:2], first.vectors[::-1])
        key = VectorCache.key("openai-" + _url_hash(fake_openai.url), "text-embedding-3-small", None, "red")
        tokens, blob = caches["default"].get(key)
        assert tokens == 1  # "red" is one word for the fake server
        np.testing.assert_array_equal(np.frombuffer(blob, dtype=np.float32), first.vectors[0])
        # Dimensions are part of the key: a 256-d request is a miss, not the 1536-d vector.
        short = service.embed(["red"], "text-embedding-3-small", dimensions=256)
        assert short.vectors.shape == (1, 256) and len(fake_openai.requests) == 3
        caches["default"].clear()


def test_local_vectors_come_from_the_cache(redis_url: str, embedder) -> None:
    with override_settings(CACHES=redis_caches(redis_url), OPENAI_API_KEY="", OPENAI_BASE_URL=""):
        caches["default"].clear()
        text = "A sentence whose vector we plant in the cache."
        planted = np.zeros(384, dtype=np.float32)
        planted[7] = 1.0
        key = VectorCache.key("local-onnx-int8", "all-MiniLM-L6-v2", None, text)
        caches["default"].set(key, (11, planted.tobytes()))
        result = embedder.embed([text, "another sentence"])
        np.testing.assert_array_equal(result.vectors[0], planted)  # served from Redis, not the model
        assert result.prompt_tokens == 11 + 2
        stored = caches["default"].get(VectorCache.key("local-onnx-int8", "all-MiniLM-L6-v2", None, "another sentence"))
        np.testing.assert_allclose(np.frombuffer(stored[1], dtype=np.float32), result.vectors[1])
        caches["default"].clear()


def test_dead_redis_degrades_to_no_cache(post_json, closed_port: int, embedder, settings) -> None:
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_BASE_URL = ""
    expected = embedder.embed(["still works"]).vectors[0]
    with override_settings(CACHES=redis_caches(f"redis://127.0.0.1:{closed_port}/11")):
        started = time.perf_counter()
        response = post_json("/embeddings/batch", {"texts": ["still works", "even without Redis"]})
        assert response.status_code == 201, response.json()
        np.testing.assert_allclose(response.json()["embeddings"][0], expected, atol=1e-6)
        # After the first failure the cache is skipped, so later requests pay no connect timeout.
        for _ in range(5):
            assert post_json("/embeddings/generate", {"text": "no cache needed"}).status_code == 201
        assert time.perf_counter() - started < 5


def test_dead_redis_with_openai_provider(closed_port: int, fake_openai: FakeOpenAI) -> None:
    with override_settings(CACHES=redis_caches(f"redis://127.0.0.1:{closed_port}/11")):
        result = embedding_service.get_instance().embed(["uncached"], "text-embedding-3-small")
    np.testing.assert_allclose(result.vectors[0], fake_vector("uncached", "text-embedding-3-small", 1536), atol=1e-6)


def test_cache_can_be_disabled(fake_openai: FakeOpenAI, settings) -> None:
    settings.EMBEDDING_CACHE_ENABLED = False
    service = embedding_service.get_instance()
    service.embed(["same"], "text-embedding-3-small")
    service.embed(["same"], "text-embedding-3-small")
    assert len(fake_openai.requests) == 2


def _url_hash(url: str) -> str:
    import hashlib

    return hashlib.sha256(url.encode()).hexdigest()[:10]
