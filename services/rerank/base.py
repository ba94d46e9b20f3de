"""The interface every reranking provider implements.

A provider scores each document against the query and returns one relevance score per document,
in the documents' order, each in 0..1 (higher is more relevant). Hosted rerankers (Cohere, Jina,
Voyage) and TEI/Infinity already answer sigmoid-calibrated scores in 0..1; the local method keeps
its scores on the cosine scale (see ``services/rerank/local.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RerankScores:
    scores: list[float]  # one per document, in the documents' order
    model: str
    tokens: int | None = None  # what the provider billed, when it says


class Reranker(Protocol):
    name: str  # the provider's name in messages and /v1/models ("local", "tei", "cohere", ...)

    def default_model(self) -> str: ...

    def rerank(self, query: str, documents: list[str], model: str | None = None) -> RerankScores: ...
