"""Vector-store backends behind one interface (``base.VectorStore``), chosen by configuration.

``RAG_VECTOR_STORE``: ``auto`` (default) picks Qdrant when ``QDRANT_URL`` is set, pgvector when
the database is PostgreSQL, else the embedded store under ``DATA_DIR``; or name one explicitly.
"""

from __future__ import annotations

from django.conf import settings

from .base import VectorStore

BACKENDS = ("auto", "embedded", "pgvector", "qdrant")


def configured_backend() -> str:
    choice = settings.RAG_VECTOR_STORE
    if choice != "auto":
        return choice
    if settings.QDRANT_URL:
        return "qdrant"
    if settings.IS_POSTGRES:
        return "pgvector"
    return "embedded"


def get_store() -> VectorStore:
    backend = configured_backend()
    if backend == "qdrant":
        from .qdrant import QdrantStore

        return QdrantStore.from_url(settings.QDRANT_URL, settings.QDRANT_API_KEY or None)
    if backend == "pgvector":
        from .pgvector import PgVectorStore

        return PgVectorStore()
    from .embedded import EmbeddedStore

    return EmbeddedStore(settings.RAG_EMBEDDED_PATH, settings.RAG_EMBEDDED_SCAN_THREADS)
