"""RAG fixtures: every store lives in ``tmp_path`` (embedded, Qdrant local) or in uniquely named
collections of the machine's PostgreSQL (pgvector), and all of them use the real local embedding
model (loaded once per session by the embedding service)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.test import override_settings

from services import rag_service
from services.rag_service import RAGService
from tests.test_generation.provider_fixtures import no_llm, openai_fake  # noqa: F401

PG_TEST_DATABASE = "mlservice_rag_store_test"


def pgvector_dsn(server_url: str) -> str:
    """A database of our own on the test server (``make test`` runs Django itself on SQLite)."""
    base = server_url.rsplit("/", 1)[0]
    with psycopg.connect(server_url, autocommit=True, connect_timeout=3) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_TEST_DATABASE]).fetchone()
        if not exists:
            try:
                conn.execute(f"CREATE DATABASE {PG_TEST_DATABASE}")
            except psycopg.errors.DuplicateDatabase:
                pass
    return f"{base}/{PG_TEST_DATABASE}"


def make_store(kind: str, tmp_path: Any, require_service: Callable[[str], str]) -> Any:
    if kind == "embedded":
        from services.vectorstores.embedded import EmbeddedStore

        return EmbeddedStore(tmp_path / "vectors.sqlite3")
    if kind == "qdrant":
        from services.vectorstores.qdrant import QdrantStore

        return QdrantStore.from_url(f"file://{tmp_path / 'qdrant'}")
    from services.vectorstores.pgvector import PgVectorStore

    server = require_service("postgres")
    if settings.IS_POSTGRES:
        return PgVectorStore()  # Django's own (test) database, tables from the migration
    return PgVectorStore(dsn=pgvector_dsn(server))


@contextmanager
def service_on(kind: str, tmp_path: Any, require_service: Callable[[str], str]) -> Iterator[RAGService]:
    """A RAGService on one backend, with a unique namespace so parallel runs never collide."""
    store = make_store(kind, tmp_path, require_service)
    service = RAGService(store, prefix=f"t{uuid.uuid4().hex[:8]}_")
    try:
        yield service
    finally:
        for name in service.collections():
            service.delete_collection(name)
        if hasattr(service.store, "close"):
            service.store.close()


@pytest.fixture(params=["embedded", "pgvector", "qdrant"])
def rag(request: pytest.FixtureRequest, tmp_path: Any, require_service: Callable[[str], str]) -> Iterator[RAGService]:
    with service_on(request.param, tmp_path, require_service) as service:
        yield service


@pytest.fixture
def pg_rag(tmp_path: Any, require_service: Callable[[str], str]) -> Iterator[RAGService]:
    with service_on("pgvector", tmp_path, require_service) as service:
        yield service


@pytest.fixture
def embedded_api(tmp_path: Any) -> Iterator[RAGService]:
    """The HTTP API wired to an embedded store in tmp_path, answers forced extractive."""
    with override_settings(
        RAG_VECTOR_STORE="embedded",
        RAG_EMBEDDED_PATH=tmp_path / "api.sqlite3",
        RAG_ANSWER_MODE="extractive",
        QDRANT_URL="",
    ):
        yield rag_service.get_instance()
