"""The interface every vector-store backend implements, and the records it exchanges.

Backends work with *physical* collection names (the service adds the ``synthstack_`` namespace).
Every backend stores, per chunk: a UUID id, the document id it belongs to, the text, ``source``,
``source_type``, a metadata object and an L2-normalised vector; it answers dense (cosine) and,
where it can, lexical (BM25-like) searches. Writes are atomic: ``upsert`` either stores every
record (after removing the listed documents' old chunks) or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from mlservice.core.errors import ServiceUnavailable


class VectorStoreError(ServiceUnavailable):
    """The store is down or failed: the client gets 503, never an empty result."""


@dataclass(frozen=True)
class ChunkRecord:
    id: str
    document_id: str
    content: str
    source: str
    source_type: str
    metadata: dict[str, Any]
    vector: np.ndarray


@dataclass
class Hit:
    id: str
    content: str
    source: str
    source_type: str
    metadata: dict[str, Any]
    cosine: float
    lexical: float | None = None
    rerank_score: float | None = None  # set by rag `rerank: true` (services/rag_service.py)
    # The calibrated relevance in [0, 1] (services/rag_calibration.py), set by the RAG service:
    # what minScore filters on and relevanceScore shows; ``cosine`` stays the raw similarity.
    score: float | None = None


@dataclass(frozen=True)
class SearchFilter:
    """``source_types``: any of them matches. ``metadata``: every key must match; a list value
    means any of its values."""

    source_types: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.source_types and not self.metadata

    def matches(self, source_type: str, metadata: dict[str, Any]) -> bool:
        if self.source_types and source_type not in self.source_types:
            return False
        for key, wanted in self.metadata.items():
            value = metadata.get(key)
            if isinstance(wanted, list):
                if value not in wanted:
                    return False
            elif value != wanted:
                return False
        return True


@dataclass(frozen=True)
class CollectionStats:
    points: int
    indexed_vectors: int
    dimensions: int


class VectorStore(Protocol):
    name: str

    def ping(self) -> None:
        """Raise when the store cannot be reached."""

    def list_collections(self) -> list[str]: ...

    def has_collection(self, collection: str) -> bool: ...

    def collection_stats(self, collection: str) -> CollectionStats | None:
        """None when the collection does not exist."""

    def upsert(self, collection: str, records: Sequence[ChunkRecord], replace_documents: Sequence[str]) -> None:
        """Create the collection if needed, drop the chunks of ``replace_documents``, add ``records``:
        all or nothing."""

    def delete_collection(self, collection: str) -> bool:
        """True when something was deleted; deleting a missing collection is not an error."""

    def delete_document(self, collection: str, document_id: str) -> int:
        """Remove a document's chunks; returns how many were removed."""

    def dense_search(self, collection: str, vector: np.ndarray, k: int, filters: SearchFilter) -> list[Hit]:
        """The k nearest chunks by cosine (exactly k when at least k match the filter)."""

    def lexical_search(
        self, collection: str, query: str, vector: np.ndarray, k: int, filters: SearchFilter
    ) -> list[Hit]:
        """The k best chunks by the backend's full-text ranking, each with its cosine to ``vector``."""


# Words that carry no meaning for ranking; they only slow full-text queries down.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves""".split()
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def query_terms(text: str, limit: int = 64) -> list[str]:
    """Distinct lower-case words of a query, stop words removed, in order of appearance."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in STOP_WORDS and word not in seen:
            seen[word] = None
            if len(seen) >= limit:
                break
    return list(seen)
