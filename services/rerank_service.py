"""Reranking: score documents against a query with the configured provider (issue 14).

    outcome = rerank_service.get_instance().rerank("query", ["doc", ...], top_n=3)
    outcome.results   # [RankedDocument(index, score)], best first; score in 0..1

Providers (``RERANK_PROVIDER``, ``auto`` by default): Cohere, Jina or Voyage when its API key is
set, a TEI or Infinity server at ``RERANK_URL``, else the local method (``services/rerank/local.py``,
chosen by measurement on SciFact, docs in the README). Inputs are bounded before any provider sees
them: ``RERANK_MAX_DOCUMENTS`` documents, ``RERANK_MAX_DOCUMENT_CHARS`` per document (and for the
query), ``RERANK_MAX_TOTAL_CHARS`` over all of them.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from mlservice.core.errors import BadRequest, NotConfigured, PayloadTooLarge, UpstreamError
from mlservice.core.resets import register_reset
from services.rerank.base import Reranker

logger = logging.getLogger("mlservice.rerank")

_KEYED = (("cohere", "COHERE_API_KEY"), ("jina", "JINA_API_KEY"), ("voyage", "VOYAGE_API_KEY"))


@dataclass(frozen=True)
class RankedDocument:
    index: int  # position in the request's documents
    score: float  # 0..1, higher is more relevant


@dataclass(frozen=True)
class RerankOutcome:
    results: list[RankedDocument]
    model: str
    provider: str
    tokens: int | None = None


def configured_provider() -> str:
    """The provider ``RERANK_PROVIDER`` names, or for ``auto`` the first one configured."""
    if settings.RERANK_PROVIDER != "auto":
        return settings.RERANK_PROVIDER
    for provider, key_setting in _KEYED:
        if getattr(settings, key_setting):
            return provider
    return "tei" if settings.RERANK_URL else "local"


class RerankService:
    def __init__(self, provider: Reranker) -> None:
        self.provider = provider

    @property
    def provider_name(self) -> str:
        return self.provider.name

    def default_model(self) -> str:
        return self.provider.default_model()

    def rerank(
        self, query: str, documents: list[str], *, top_n: int | None = None, model: str | None = None
    ) -> RerankOutcome:
        check_rerank_input(query, documents)
        started = time.perf_counter()
        scored = self.provider.rerank(query, documents, model or None)
        if len(scored.scores) != len(documents):
            raise UpstreamError(
                f"{self.provider.name} reranker returned {len(scored.scores)} scores for {len(documents)} documents"
            )
        # Best first; equal scores keep the documents' order (a stable sort).
        order = sorted(range(len(documents)), key=lambda i: -scored.scores[i])
        if top_n is not None:
            order = order[:top_n]
        logger.debug(
            "reranked %d documents with %s in %.1f ms",
            len(documents),
            self.provider.name,
            (time.perf_counter() - started) * 1000,
        )
        return RerankOutcome(
            results=[RankedDocument(index=i, score=_unit(scored.scores[i])) for i in order],
            model=scored.model,
            provider=self.provider.name,
            tokens=scored.tokens,
        )


def check_rerank_input(query: str, documents: list[str]) -> None:
    if not query.strip():
        raise BadRequest("query should not be empty")
    if not documents:
        raise BadRequest("documents should not be empty")
    if len(documents) > settings.RERANK_MAX_DOCUMENTS:
        raise BadRequest(
            f"documents must contain no more than {settings.RERANK_MAX_DOCUMENTS} elements (RERANK_MAX_DOCUMENTS)"
        )
    limit = settings.RERANK_MAX_DOCUMENT_CHARS
    if len(query) > limit:
        raise PayloadTooLarge(f"query is {len(query)} characters; the limit is {limit} (RERANK_MAX_DOCUMENT_CHARS)")
    for index, document in enumerate(documents):
        if len(document) > limit:
            raise PayloadTooLarge(
                f"documents[{index}] is {len(document)} characters; the limit is {limit} (RERANK_MAX_DOCUMENT_CHARS)"
            )
    total = len(query) + sum(len(document) for document in documents)
    if total > settings.RERANK_MAX_TOTAL_CHARS:
        raise PayloadTooLarge(
            f"query and documents hold {total} characters together; the limit is "
            f"{settings.RERANK_MAX_TOTAL_CHARS} (RERANK_MAX_TOTAL_CHARS)"
        )


def _unit(score: float) -> float:
    """Scores are documented as 0..1; a provider's float noise (or raw logits) is clamped."""
    return min(1.0, max(0.0, float(score)))


def _build(provider: str) -> Reranker:
    if provider == "local":
        from services.rerank.local import LocalReranker

        return LocalReranker()
    from services.rerank.http_providers import HTTPReranker

    api_key = dict(_KEYED).get(provider)
    if provider in ("tei", "infinity") and not settings.RERANK_URL:
        raise NotConfigured(f"RERANK_PROVIDER={provider} needs RERANK_URL (the server's address)")
    return HTTPReranker(
        provider,
        url=settings.RERANK_URL,
        api_key=getattr(settings, api_key) if api_key else "",
        model=settings.RERANK_MODEL,
        timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        batch_size=settings.RERANK_BATCH_SIZE,
    )


def _config_key() -> tuple[Any, ...]:
    return (
        configured_provider(),
        settings.RERANK_URL,
        settings.RERANK_MODEL,
        settings.COHERE_API_KEY,
        settings.JINA_API_KEY,
        settings.VOYAGE_API_KEY,
        settings.PROVIDER_TIMEOUT_SECONDS,
        settings.RERANK_BATCH_SIZE,
    )


@functools.cache
def _instance(key: tuple[Any, ...]) -> RerankService:
    return RerankService(_build(key[0]))


register_reset(_instance.cache_clear, settings=("RERANK_", "COHERE_", "JINA_", "VOYAGE_", "PROVIDER_"))


def get_instance() -> RerankService:
    """One service per configuration (tests switch providers with override_settings)."""
    return _instance(_config_key())
