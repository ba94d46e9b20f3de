"""Vector-store backends behind one interface (``base.VectorStore``), chosen by configuration.

``RAG_VECTOR_STORE``: ``auto`` (default) picks Qdrant when ``QDRANT_URL`` is set, pgvector when
the database is PostgreSQL, else the embedded store under ``DATA_DIR``; or name one explicitly.
"""

from __future__ import annotations

from services.rag_config import rag_config

from .base import VectorStore

BACKENDS = ("auto", "embedded", "pgvector", "qdrant")


def configured_backend() -> str:
    config = rag_config()
    if config.vector_store != "auto":
        return config.vector_store
    if config.qdrant_url:
        return "qdrant"
    if config.is_postgres:
        return "pgvector"
    return "embedded"


def get_store() -> VectorStore:
    backend, config = configured_backend(), rag_config()
    if backend == "qdrant":
        from .qdrant import QdrantStore

        return QdrantStore.from_url(config.qdrant_url, config.qdrant_api_key or None)
    if backend == "pgvector":
        from .pgvector import PgVectorStore

        return PgVectorStore()
    from .embedded import EmbeddedStore

    return EmbeddedStore(config.embedded_path, config.embedded_scan_threads)
