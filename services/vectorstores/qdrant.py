"""Qdrant backend through ``qdrant-client``: a server (``QDRANT_URL=http://...``) or the client's
embedded local mode (``QDRANT_URL=file:///path`` or ``:memory:``).

Collections get a named dense vector (cosine) and a sparse ``bm25`` vector with Qdrant's IDF
modifier: the client sends BM25 term-frequency weights (Snowball-stemmed words hashed to
indices), Qdrant multiplies in the IDF, which gives BM25 ranking inside Qdrant. Collections made by
the TS service (one unnamed dense vector) are still searched, densely.

Qdrant has no multi-operation transactions, so a re-index upserts the new points first (one
batch: all or nothing) and only then deletes the document's stale points; a failure in between
leaves the old version and never a partial new one.
"""

from __future__ import annotations

import functools
import logging
import re
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import numpy as np

from .base import STOP_WORDS, ChunkRecord, CollectionStats, Hit, SearchFilter, VectorStoreError

logger = logging.getLogger("mlservice.rag.qdrant")

DENSE = "dense"
SPARSE = "bm25"
BM25_K1 = 1.2
BM25_B = 0.75
BM25_AVG_LENGTH = 256.0  # Qdrant's own BM25 default; the true mean is unknown while indexing
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
RESERVED = ("content", "source", "source_type")


@functools.cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def term_counts(text: str) -> Counter[int]:
    words = [word for word in _WORD.findall(text.lower()) if word not in STOP_WORDS]
    return Counter(zlib.crc32(stem.encode()) & 0x7FFFFFFF for stem in _stemmer().stemWords(words))


def bm25_document_vector(text: str) -> tuple[list[int], list[float]]:
    counts = term_counts(text)
    length = sum(counts.values())
    norm = BM25_K1 * (1 - BM25_B + BM25_B * length / BM25_AVG_LENGTH)
    indices = list(counts)
    return indices, [counts[i] * (BM25_K1 + 1) / (counts[i] + norm) for i in indices]


def bm25_query_vector(text: str) -> tuple[list[int], list[float]]:
    indices = list(term_counts(text))
    return indices, [1.0] * len(indices)


class QdrantStore:
    name = "qdrant"

    def __init__(self, client: Any) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, api_key: str | None = None) -> QdrantStore:
        from qdrant_client import QdrantClient

        if url == ":memory:":
            return cls(QdrantClient(location=":memory:"))
        if url.startswith("file://"):
            return cls(QdrantClient(path=url[len("file://") :]))
        return cls(QdrantClient(url=url, api_key=api_key, timeout=10, check_compatibility=False))

    @contextmanager
    def _calls(self) -> Iterator[None]:
        try:
            yield
        except VectorStoreError:
            raise
        except Exception as exc:
            logger.exception("qdrant failed")
            raise VectorStoreError(f"Vector store error: {exc}") from exc

    # --- collections -------------------------------------------------------------------------
    def ping(self) -> None:
        with self._calls():
            self.client.get_collections()

    def list_collections(self) -> list[str]:
        with self._calls():
            return [c.name for c in self.client.get_collections().collections]

    def has_collection(self, collection: str) -> bool:
        with self._calls():
            return bool(self.client.collection_exists(collection))

    def _layout(self, collection: str) -> tuple[str | None, bool, int] | None:
        """(dense vector name or None when unnamed, has the sparse BM25 vector, dimensions)."""
        from qdrant_client import models

        if not self.client.collection_exists(collection):
            return None
        params = self.client.get_collection(collection).config.params
        vectors = params.vectors
        if isinstance(vectors, models.VectorParams):
            return None, False, int(vectors.size)
        name = DENSE if DENSE in vectors else next(iter(vectors))
        return name, bool(params.sparse_vectors and SPARSE in params.sparse_vectors), int(vectors[name].size)

    def collection_stats(self, collection: str) -> CollectionStats | None:
        with self._calls():
            layout = self._layout(collection)
            if layout is None:
                return None
            info = self.client.get_collection(collection)
            return CollectionStats(
                points=int(info.points_count or 0),
                indexed_vectors=int(info.indexed_vectors_count or 0),
                dimensions=layout[2],
            )

    def delete_collection(self, collection: str) -> bool:
        with self._calls():
            existed = self.client.collection_exists(collection)
            self.client.delete_collection(collection)
            return bool(existed)

    # --- writes ------------------------------------------------------------------------------
    def upsert(self, collection: str, records: Sequence[ChunkRecord], replace_documents: Sequence[str]) -> None:
        from qdrant_client import models

        with self._calls():
            layout = self._layout(collection)
            if layout is None:
                if not records:
                    return
                self.client.create_collection(
                    collection,
                    vectors_config={
                        DENSE: models.VectorParams(
                            size=int(records[0].vector.shape[0]), distance=models.Distance.COSINE
                        )
                    },
                    sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                )
                layout = (DENSE, True, int(records[0].vector.shape[0]))
            dense, sparse, dimensions = layout
            if records:
                _check(collection, dimensions, records[0].vector)
                points = [self._point(record, dense, sparse) for record in records]
                self.client.upsert(collection, points=points, wait=True)
            if replace_documents:
                keep: list[int | str | UUID] = [record.id for record in records]
                selector = models.Filter(
                    must=[models.FieldCondition(key="document_id", match=models.MatchAny(any=list(replace_documents)))],
                    must_not=[models.HasIdCondition(has_id=keep)] if keep else None,
                )
                self.client.delete(collection, points_selector=models.FilterSelector(filter=selector), wait=True)

    @staticmethod
    def _point(record: ChunkRecord, dense: str | None, sparse: bool) -> Any:
        from qdrant_client import models

        vector: Any = record.vector.astype(np.float32).tolist()
        if dense is not None:
            vector = {dense: vector}
            if sparse:
                indices, values = bm25_document_vector(record.content)
                if indices:
                    vector[SPARSE] = models.SparseVector(indices=indices, values=values)
        payload = {
            **record.metadata,
            "content": record.content,
            "source": record.source,
            "source_type": record.source_type,
        }
        payload.setdefault("document_id", record.document_id)
        return models.PointStruct(id=record.id, vector=vector, payload=payload)

    def delete_document(self, collection: str, document_id: str) -> int:
        from qdrant_client import models

        with self._calls():
            if not self.client.collection_exists(collection):
                return 0
            selector = models.Filter(
                must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id))]
            )
            count = self.client.count(collection, count_filter=selector, exact=True).count
            if count:
                self.client.delete(collection, points_selector=models.FilterSelector(filter=selector), wait=True)
            return int(count)

    # --- reads -------------------------------------------------------------------------------
    def dense_search(self, collection: str, vector: np.ndarray, k: int, filters: SearchFilter) -> list[Hit]:
        with self._calls():
            layout = self._layout(collection)
            if layout is None:
                return []
            _check(collection, layout[2], vector)
            response = self.client.query_points(
                collection,
                query=np.asarray(vector, dtype=np.float32).tolist(),
                using=layout[0],
                limit=int(k),
                query_filter=_filter(filters),
                with_payload=True,
            )
            return [_hit(point, float(point.score)) for point in response.points]

    def lexical_search(
        self, collection: str, query: str, vector: np.ndarray, k: int, filters: SearchFilter
    ) -> list[Hit]:
        from qdrant_client import models

        with self._calls():
            layout = self._layout(collection)
            if layout is None or not layout[1]:
                return []  # a TS-made collection has no BM25 vectors: hybrid degrades to dense
            _check(collection, layout[2], vector)
            indices, values = bm25_query_vector(query)
            if not indices:
                return []
            response = self.client.query_points(
                collection,
                query=models.SparseVector(indices=indices, values=values),
                using=SPARSE,
                limit=int(k),
                query_filter=_filter(filters),
                with_payload=True,
                with_vectors=[layout[0]],
            )
            query_vector = np.asarray(vector, dtype=np.float32)
            hits = []
            for point in response.points:
                stored = np.asarray(point.vector[layout[0]], dtype=np.float32)
                cosine = float(stored @ query_vector / (np.linalg.norm(stored) * np.linalg.norm(query_vector) or 1.0))
                hits.append(_hit(point, cosine, lexical=float(point.score)))
            return hits


def _check(collection: str, stored: int, vector: np.ndarray) -> None:
    if int(vector.shape[0]) != stored:
        from .embedded import DimensionMismatch

        raise DimensionMismatch(collection, stored, int(vector.shape[0]))


def _filter(filters: SearchFilter) -> Any:
    from qdrant_client import models

    if filters.is_empty():
        return None
    must: list[Any] = []
    if filters.source_types:
        # Contract 4.3.0: any of the source types matches (Qdrant "should" in TS).
        must.append(models.FieldCondition(key="source_type", match=models.MatchAny(any=list(filters.source_types))))
    for key, wanted in filters.metadata.items():
        if isinstance(wanted, list):
            must.append(models.FieldCondition(key=key, match=models.MatchAny(any=wanted)))
        else:
            must.append(models.FieldCondition(key=key, match=models.MatchValue(value=wanted)))
    return models.Filter(must=must)


def _hit(point: Any, cosine: float, lexical: float | None = None) -> Hit:
    payload = dict(point.payload or {})
    return Hit(
        id=str(point.id),
        content=str(payload.pop("content", "") or ""),
        source=str(payload.pop("source", "") or ""),
        source_type=str(payload.pop("source_type", "") or ""),
        metadata=payload,
        cosine=cosine,
        lexical=lexical,
    )
