"""The RAG area's settings, read once (issue 13; the pattern of ``rerank_config()``).

``rag_config()`` is cached; one ``setting_changed`` receiver (mlservice/core/resets.py) rebuilds it
when a setting it holds changes (``RAG_SETTINGS``), so ``override_settings`` and pytest-django's
``settings`` fixture reach the next call. Used by services/rag_service.py and services/documents.py
(a module of its own, so document extraction does not import the RAG service). The reranker's
limits are the rerank area's own (``rerank_service.rerank_config()``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from mlservice.core.resets import register_reset


@dataclass(frozen=True)
class RagConfig:
    """Settings of the RAG area (``rag_config()``; rebuilt when a setting changes)."""

    # The store (the service is one per store configuration)
    vector_store: str  # RAG_VECTOR_STORE: auto, embedded, pgvector or qdrant
    embedded_path: Path
    embedded_scan_threads: int
    pgvector_ef_search: int
    qdrant_url: str
    qdrant_api_key: str
    collection_prefix: str
    is_postgres: bool  # IS_POSTGRES (from DATABASES)
    # Indexing
    max_content_chars: int
    max_chunks_per_document: int
    embedding_max_text_chars: int  # EMBEDDING_MAX_TEXT_CHARS: a document embedded whole is one text
    # Retrieval
    hybrid_candidates: int
    fusion: str  # zscore or rrf
    rrf_k: float
    dense_weight: float
    lexical_weight: float
    rerank_candidates: int
    # Answers
    answer_mode: str  # auto, llm or extractive
    extractive_sentences: int
    extractive_max_candidates: int
    # Document files (services/documents.py)
    document_max_chars: int
    document_max_pages: int
    document_max_seconds: float
    upload_max_file_bytes: int


@functools.cache
def rag_config() -> RagConfig:
    return RagConfig(
        vector_store=settings.RAG_VECTOR_STORE,
        embedded_path=settings.RAG_EMBEDDED_PATH,
        embedded_scan_threads=settings.RAG_EMBEDDED_SCAN_THREADS,
        pgvector_ef_search=settings.RAG_PGVECTOR_EF_SEARCH,
        qdrant_url=settings.QDRANT_URL,
        qdrant_api_key=settings.QDRANT_API_KEY,
        collection_prefix=settings.RAG_COLLECTION_PREFIX,
        is_postgres=settings.IS_POSTGRES,
        max_content_chars=settings.RAG_MAX_CONTENT_CHARS,
        max_chunks_per_document=settings.RAG_MAX_CHUNKS_PER_DOCUMENT,
        embedding_max_text_chars=settings.EMBEDDING_MAX_TEXT_CHARS,
        hybrid_candidates=settings.RAG_HYBRID_CANDIDATES,
        fusion=settings.RAG_FUSION,
        rrf_k=settings.RAG_RRF_K,
        dense_weight=settings.RAG_DENSE_WEIGHT,
        lexical_weight=settings.RAG_LEXICAL_WEIGHT,
        rerank_candidates=settings.RAG_RERANK_CANDIDATES,
        answer_mode=settings.RAG_ANSWER_MODE,
        extractive_sentences=settings.RAG_EXTRACTIVE_SENTENCES,
        extractive_max_candidates=settings.RAG_EXTRACTIVE_MAX_CANDIDATES,
        document_max_chars=settings.RAG_DOCUMENT_MAX_CHARS,
        document_max_pages=settings.RAG_DOCUMENT_MAX_PAGES,
        document_max_seconds=settings.RAG_DOCUMENT_MAX_SECONDS,
        upload_max_file_bytes=settings.RAG_UPLOAD_MAX_FILE_BYTES,
    )


# Every setting rag_config() reads (and DATABASES, which IS_POSTGRES follows): names, or prefixes ending in "_".
RAG_SETTINGS = ("RAG_", "QDRANT_", "IS_POSTGRES", "DATABASES", "EMBEDDING_MAX_TEXT_CHARS")
register_reset(rag_config.cache_clear, settings=RAG_SETTINGS)
