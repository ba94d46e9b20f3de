from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from services import embedding_service

from .fake_openai import FakeOpenAI, start_fake_openai


@pytest.fixture(scope="session")
def embedder() -> embedding_service.EmbeddingService:
    """The service with the local model loaded once for the whole run (ONNX built on first use)."""
    service = embedding_service.get_instance()
    service.warm()
    return service


@pytest.fixture(autouse=True)
def _fresh_cache_breaker() -> None:
    # A test that points the cache at a dead Redis must not leave the next test uncached.
    embedding_service.get_instance().reset_cache_breaker()


@pytest.fixture(scope="module")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    fake, server = start_fake_openai()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI, settings) -> FakeOpenAI:
    """The fake server, configured as the OpenAI endpoint, with a clean record."""
    fake_openai_server.requests.clear()
    fake_openai_server.script.clear()
    settings.OPENAI_API_KEY = "sk-test-key"
    settings.OPENAI_BASE_URL = fake_openai_server.url
    settings.PROVIDER_MAX_RETRIES = 2
    settings.PROVIDER_TIMEOUT_SECONDS = 5.0
    return fake_openai_server


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
