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

from django.conf import settings

from mlservice.core.errors import BadRequest, NotConfigured, PayloadTooLarge, UpstreamError
from mlservice.core.resets import register_reset
from services.rerank.base import Reranker

logger = logging.getLogger("mlservice.rerank")

_KEYED = ("cohere", "jina", "voyage")  # hosted providers, in the order ``auto`` tries their keys


@dataclass(frozen=True)
class RerankConfig:
    """The area's settings, read once (``rerank_config()``; rebuilt when a setting changes)."""

    provider: str  # RERANK_PROVIDER as configured (may be "auto")
    url: str
    model: str
    api_keys: dict[str, str]  # cohere/jina/voyage -> key ("" when unset)
    timeout: float
    batch_size: int
    max_documents: int
    max_document_chars: int
    max_total_chars: int

    @property
    def resolved_provider(self) -> str:
        """The provider ``RERANK_PROVIDER`` names, or for ``auto`` the first one configured."""
        if self.provider != "auto":
            return self.provider
        for provider in _KEYED:
            if self.api_keys[provider]:
                return provider
        return "tei" if self.url else "local"


@functools.cache
def rerank_config() -> RerankConfig:
    return RerankConfig(
        provider=settings.RERANK_PROVIDER,
        url=settings.RERANK_URL,
        model=settings.RERANK_MODEL,
        api_keys={
            "cohere": settings.COHERE_API_KEY,
            "jina": settings.JINA_API_KEY,
            "voyage": settings.VOYAGE_API_KEY,
        },
        timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        batch_size=settings.RERANK_BATCH_SIZE,
        max_documents=settings.RERANK_MAX_DOCUMENTS,
        max_document_chars=settings.RERANK_MAX_DOCUMENT_CHARS,
        max_total_chars=settings.RERANK_MAX_TOTAL_CHARS,
    )


_RERANK_SETTINGS = ("RERANK_", "COHERE_API_KEY", "JINA_API_KEY", "VOYAGE_API_KEY", "PROVIDER_TIMEOUT_SECONDS")
register_reset(rerank_config.cache_clear, settings=_RERANK_SETTINGS)


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
    return rerank_config().resolved_provider


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
    config = rerank_config()
    if len(documents) > config.max_documents:
        raise BadRequest(f"documents must contain no more than {config.max_documents} elements (RERANK_MAX_DOCUMENTS)")
    limit = config.max_document_chars
    if len(query) > limit:
        raise PayloadTooLarge(f"query is {len(query)} characters; the limit is {limit} (RERANK_MAX_DOCUMENT_CHARS)")
    for index, document in enumerate(documents):
        if len(document) > limit:
            raise PayloadTooLarge(
                f"documents[{index}] is {len(document)} characters; the limit is {limit} (RERANK_MAX_DOCUMENT_CHARS)"
            )
    total = len(query) + sum(len(document) for document in documents)
    if total > config.max_total_chars:
        raise PayloadTooLarge(
            f"query and documents hold {total} characters together; the limit is "
            f"{config.max_total_chars} (RERANK_MAX_TOTAL_CHARS)"
        )


def _unit(score: float) -> float:
    """Scores are documented as 0..1; a provider's float noise (or raw logits) is clamped."""
    return min(1.0, max(0.0, float(score)))


def _build(config: RerankConfig) -> Reranker:
    provider = config.resolved_provider
    if provider == "local":
        from services.rerank.local import LocalReranker

        return LocalReranker()
    from services.rerank.http_providers import HTTPReranker

    if provider in ("tei", "infinity") and not config.url:
        raise NotConfigured(f"RERANK_PROVIDER={provider} needs RERANK_URL (the server's address)")
    return HTTPReranker(
        provider,
        url=config.url,
        api_key=config.api_keys.get(provider, ""),
        model=config.model,
        timeout=config.timeout,
        batch_size=config.batch_size,
    )


@functools.cache
def get_instance() -> RerankService:
    """One service for the configuration; override_settings rebuilds it (mlservice/core/resets.py)."""
    return RerankService(_build(rerank_config()))


register_reset(get_instance.cache_clear, settings=_RERANK_SETTINGS)
