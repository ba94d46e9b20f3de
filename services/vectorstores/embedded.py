"""Embedded vector store: one SQLite file (WAL) under ``DATA_DIR`` plus an in-memory float32 matrix.

Why this engine (measured in benchmarks/retrieval.py, 2 CPU cores, 100k x 384 chunks): an exact
float32 mat-vec over 100k rows takes 5-10 ms (row blocks scored by one thread per core; the figure
follows the machine's memory bandwidth), so results are exact (filtered searches always return k)
and there is no index to build (usearch needed 70-200 s to add 100k vectors here), tune or corrupt.
SQLite gives what an ANN library does not: atomic multi-row writes, safe concurrent access from
several worker processes, and FTS5 (a BM25 full-text index, Porter stemming) updated in the same
transaction as the vectors.

Each process caches a collection's vectors; a per-collection generation counter, bumped by every
write, tells other processes to reload (appends are loaded incrementally, deletions reload all).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import ChunkRecord, CollectionStats, Hit, SearchFilter, VectorStoreError, query_terms

# Below this many rows a dense scan is too short to be worth splitting between threads.
PARALLEL_SCAN_MIN_ROWS = 20_000

logger = logging.getLogger("mlservice.rag.embedded")

SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_collections (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    dimensions INTEGER NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    deletions INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rag_chunks (
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    collection_pk INTEGER NOT NULL REFERENCES rag_collections(pk) ON DELETE CASCADE,
    id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    content TEXT NOT NULL,
    source TEXT NOT NULL,
    source_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    vector BLOB NOT NULL,
    UNIQUE (collection_pk, id)
);
CREATE INDEX IF NOT EXISTS rag_chunks_document ON rag_chunks (collection_pk, document_id);
"""


@dataclass
class _Matrix:
    generation: int
    deletions: int
    rowids: np.ndarray  # int64, ascending
    vectors: np.ndarray  # float32 (n, d)
    source_types: np.ndarray  # object


class EmbeddedStore:
    name = "embedded"

    def __init__(self, path: Path, scan_threads: int = 0) -> None:
        self.path = Path(path)
        # Threads that share one dense scan over a large collection (0: the machine's cores).
        self.scan_threads = scan_threads or os.cpu_count() or 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._cache: dict[int, _Matrix] = {}
        self._cache_lock = threading.Lock()
        with self._connection() as conn:
            conn.executescript(SCHEMA)

    # --- connections -------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._conn()
        except sqlite3.Error as exc:
            logger.exception("embedded vector store failed: %s", exc)
            raise VectorStoreError(f"Vector store error: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- collections -------------------------------------------------------------------------
    def ping(self) -> None:
        with self._connection() as conn:
            conn.execute("SELECT 1 FROM rag_collections LIMIT 1").fetchall()

    def list_collections(self) -> list[str]:
        with self._connection() as conn:
            return [row[0] for row in conn.execute("SELECT name FROM rag_collections ORDER BY pk")]

    def has_collection(self, collection: str) -> bool:
        with self._connection() as conn:
            return self._collection(conn, collection) is not None

    def _collection(self, conn: sqlite3.Connection, name: str) -> tuple[int, int, int, int] | None:
        row: tuple[int, int, int, int] | None = conn.execute(
            "SELECT pk, dimensions, generation, deletions FROM rag_collections WHERE name = ?", (name,)
        ).fetchone()
        return row

    def collection_stats(self, collection: str) -> CollectionStats | None:
        with self._connection() as conn:
            row = self._collection(conn, collection)
            if row is None:
                return None
            (count,) = conn.execute("SELECT count(*) FROM rag_chunks WHERE collection_pk = ?", (row[0],)).fetchone()
        return CollectionStats(points=count, indexed_vectors=count, dimensions=row[1])

    def delete_collection(self, collection: str) -> bool:
        with self._write() as conn:
            row = self._collection(conn, collection)
            if row is None:
                return False
            conn.execute("DELETE FROM rag_chunks WHERE collection_pk = ?", (row[0],))
            conn.execute(f"DROP TABLE IF EXISTS {_fts(row[0])}")
            conn.execute("DELETE FROM rag_collections WHERE pk = ?", (row[0],))
        with self._cache_lock:
            self._cache.pop(row[0], None)
        return True

    # --- writes ------------------------------------------------------------------------------
    def upsert(self, collection: str, records: Sequence[ChunkRecord], replace_documents: Sequence[str]) -> None:
        dimensions = int(records[0].vector.shape[0]) if records else 0
        with self._write() as conn:
            row = self._collection(conn, collection)
            if row is None:
                if not records:
                    return
                cursor = conn.execute(
                    "INSERT INTO rag_collections (name, dimensions) VALUES (?, ?)", (collection, dimensions)
                )
                assert cursor.lastrowid is not None  # set by every INSERT
                pk = cursor.lastrowid
                conn.execute(
                    f"CREATE VIRTUAL TABLE {_fts(pk)} USING fts5(content, "
                    "tokenize = 'porter unicode61 remove_diacritics 2')"
                )
            else:
                pk = row[0]
                if records and row[1] != dimensions:
                    raise DimensionMismatch(collection, row[1], dimensions)
            removed = self._delete_documents(conn, pk, replace_documents)
            removed += self._delete_ids(conn, pk, [record.id for record in records])
            for record in records:
                cursor = conn.execute(
                    "INSERT INTO rag_chunks (collection_pk, id, document_id, content, source, source_type,"
                    " metadata, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        pk,
                        record.id,
                        record.document_id,
                        record.content,
                        record.source,
                        record.source_type,
                        json.dumps(record.metadata, ensure_ascii=False),
                        np.ascontiguousarray(record.vector, dtype=np.float32).tobytes(),
                    ),
                )
                conn.execute(
                    f"INSERT INTO {_fts(pk)} (rowid, content) VALUES (?, ?)", (cursor.lastrowid, record.content)
                )
            conn.execute(
                "UPDATE rag_collections SET generation = generation + 1, deletions = deletions + ? WHERE pk = ?",
                (1 if removed else 0, pk),
            )

    def delete_document(self, collection: str, document_id: str) -> int:
        with self._write() as conn:
            row = self._collection(conn, collection)
            if row is None:
                return 0
            removed = self._delete_documents(conn, row[0], [document_id])
            if removed:
                conn.execute(
                    "UPDATE rag_collections SET generation = generation + 1, deletions = deletions + 1 WHERE pk = ?",
                    (row[0],),
                )
        return removed

    def _delete_documents(self, conn: sqlite3.Connection, pk: int, document_ids: Sequence[str]) -> int:
        removed = 0
        for document_id in dict.fromkeys(document_ids):
            rowids = [
                r[0]
                for r in conn.execute(
                    "SELECT rowid FROM rag_chunks WHERE collection_pk = ? AND document_id = ?", (pk, document_id)
                )
            ]
            removed += self._delete_rowids(conn, pk, rowids)
        return removed

    def _delete_ids(self, conn: sqlite3.Connection, pk: int, ids: Sequence[str]) -> int:
        rowids: list[int] = []
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            rowids += [
                r[0]
                for r in conn.execute(
                    f"SELECT rowid FROM rag_chunks WHERE collection_pk = ? AND id IN ({marks})", (pk, *batch)
                )
            ]
        return self._delete_rowids(conn, pk, rowids)

    def _delete_rowids(self, conn: sqlite3.Connection, pk: int, rowids: list[int]) -> int:
        for rowid in rowids:
            conn.execute("DELETE FROM rag_chunks WHERE rowid = ?", (rowid,))
            conn.execute(f"DELETE FROM {_fts(pk)} WHERE rowid = ?", (rowid,))
        return len(rowids)

    # --- reads -------------------------------------------------------------------------------
    def _matrix(self, conn: sqlite3.Connection, collection: str) -> tuple[int, _Matrix] | None:
        row = self._collection(conn, collection)
        if row is None:
            return None
        pk, dimensions, generation, deletions = row
        with self._cache_lock:
            cached = self._cache.get(pk)
            if cached is not None and cached.generation == generation:
                return pk, cached
            if cached is not None and cached.deletions == deletions:
                cached = self._append(conn, pk, dimensions, cached, generation)
            else:
                cached = self._load(conn, pk, dimensions, generation, deletions, after=0)
            self._cache[pk] = cached
            return pk, cached

    def _load(
        self, conn: sqlite3.Connection, pk: int, dimensions: int, generation: int, deletions: int, after: int
    ) -> _Matrix:
        rows = conn.execute(
            "SELECT rowid, source_type, vector FROM rag_chunks WHERE collection_pk = ? AND rowid > ? ORDER BY rowid",
            (pk, after),
        ).fetchall()
        rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        vectors = np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dimensions)
        source_types = np.array([r[1] for r in rows], dtype=object)
        return _Matrix(generation, deletions, rowids, vectors, source_types)

    def _append(self, conn: sqlite3.Connection, pk: int, dimensions: int, cached: _Matrix, generation: int) -> _Matrix:
        after = int(cached.rowids[-1]) if len(cached.rowids) else 0
        new = self._load(conn, pk, dimensions, generation, cached.deletions, after)
        return _Matrix(
            generation,
            cached.deletions,
            np.concatenate([cached.rowids, new.rowids]),
            np.concatenate([cached.vectors, new.vectors]),
            np.concatenate([cached.source_types, new.source_types]),
        )

    def dense_search(self, collection: str, vector: np.ndarray, k: int, filters: SearchFilter) -> list[Hit]:
        with self._connection() as conn:
            loaded = self._matrix(conn, collection)
            if loaded is None:
                return []
            pk, matrix = loaded
            _check_dimensions(collection, matrix.vectors.shape[1], vector)
            scores = _scan(matrix.vectors, np.asarray(vector, dtype=np.float32), self.scan_threads)
            mask = self._filter_mask(conn, pk, matrix, filters)
            if mask is not None:
                scores = np.where(mask, scores, -np.inf)
            count = min(k, len(scores) if mask is None else int(mask.sum()))
            if count <= 0:
                return []
            top = np.argpartition(-scores, count - 1)[:count]
            top = top[np.argsort(-scores[top], kind="stable")]
            return self._hits(conn, [int(matrix.rowids[i]) for i in top], [float(scores[i]) for i in top], None)

    def lexical_search(
        self, collection: str, query: str, vector: np.ndarray, k: int, filters: SearchFilter
    ) -> list[Hit]:
        terms = query_terms(query)
        if not terms:
            return []
        with self._connection() as conn:
            loaded = self._matrix(conn, collection)
            if loaded is None:
                return []
            pk, matrix = loaded
            _check_dimensions(collection, matrix.vectors.shape[1], vector)
            match = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
            where, params = _metadata_where(filters)
            rows = conn.execute(
                f"SELECT f.rowid, -bm25({_fts(pk)}) AS score FROM {_fts(pk)} f"
                + (" JOIN rag_chunks c ON c.rowid = f.rowid" if where else "")
                + f" WHERE {_fts(pk)} MATCH ?{where} ORDER BY bm25({_fts(pk)}) LIMIT ?",
                (match, *params, k),
            ).fetchall()
            if not rows:
                return []
            rowids = [int(r[0]) for r in rows]
            positions = np.searchsorted(matrix.rowids, rowids)
            cosines = matrix.vectors[positions] @ np.asarray(vector, dtype=np.float32)
            return self._hits(conn, rowids, [float(c) for c in cosines], [float(r[1]) for r in rows])

    def _filter_mask(
        self, conn: sqlite3.Connection, pk: int, matrix: _Matrix, filters: SearchFilter
    ) -> np.ndarray | None:
        if filters.is_empty():
            return None
        mask = np.ones(len(matrix.rowids), dtype=bool)
        if filters.source_types:
            mask &= np.isin(matrix.source_types, list(filters.source_types))
        if filters.metadata:
            where, params = _metadata_where(SearchFilter(metadata=filters.metadata))
            allowed = np.fromiter(
                (
                    r[0]
                    for r in conn.execute(
                        f"SELECT rowid FROM rag_chunks c WHERE collection_pk = ?{where}", (pk, *params)
                    )
                ),
                dtype=np.int64,
            )
            mask &= np.isin(matrix.rowids, allowed)
        return mask

    def _hits(
        self, conn: sqlite3.Connection, rowids: list[int], cosines: list[float], lexical: list[float] | None
    ) -> list[Hit]:
        marks = ",".join("?" * len(rowids))
        rows = {
            r[0]: r
            for r in conn.execute(
                f"SELECT rowid, id, content, source, source_type, metadata FROM rag_chunks WHERE rowid IN ({marks})",
                rowids,
            )
        }
        hits = []
        for position, rowid in enumerate(rowids):
            row = rows.get(rowid)
            if row is None:  # deleted by another process since the matrix was loaded
                continue
            hits.append(
                Hit(
                    id=row[1],
                    content=row[2],
                    source=row[3],
                    source_type=row[4],
                    metadata=json.loads(row[5]),
                    cosine=cosines[position],
                    lexical=None if lexical is None else lexical[position],
                )
            )
        return hits


class DimensionMismatch(VectorStoreError):
    def __init__(self, collection: str, stored: int, given: int) -> None:
        super().__init__(
            f"Collection '{collection}' holds {stored}-dimensional vectors, the embedding model gives {given}",
            400,
        )


def _check_dimensions(collection: str, stored: int, vector: np.ndarray) -> None:
    if stored and int(vector.shape[0]) != stored:
        raise DimensionMismatch(collection, stored, int(vector.shape[0]))


def _scan(vectors: np.ndarray, query: np.ndarray, threads: int) -> np.ndarray:
    """Cosine of every row to the query. Large matrices are split into row blocks scored by
    ``threads`` threads at once: one core cannot pull 154 MB (100k x 384) through the memory bus
    in under 9 ms here, two halves take about 5 ms (numpy releases the GIL)."""
    rows = len(vectors)
    parts = min(threads, rows // PARALLEL_SCAN_MIN_ROWS)
    with _single_blas_thread():
        if parts < 2:
            cosines: np.ndarray = vectors @ query
            return cosines
        scores = np.empty(rows, dtype=np.float32)
        bounds = np.linspace(0, rows, parts + 1).astype(int)

        def score_block(block: int) -> None:
            start, stop = bounds[block], bounds[block + 1]
            np.matmul(vectors[start:stop], query, out=scores[start:stop])

        list(_scan_pool(threads).map(score_block, range(parts)))
        return scores


@functools.cache
def _scan_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="vector-scan")


@functools.cache
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _single_blas_thread() -> Any:
    """BLAS's own threads do not speed up a mat-vec here (measured: 16 ms with 2 threads, 8 ms with 1
    on 2 busy cores); splitting the rows between our threads does (see ``_scan``)."""
    return _blas_controller().limit(limits=1, user_api="blas")


def _fts(pk: int) -> str:
    return f"rag_fts_{int(pk)}"


def _metadata_where(filters: SearchFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if filters.source_types:
        clauses.append(f"c.source_type IN ({','.join('?' * len(filters.source_types))})")
        params += list(filters.source_types)
    for key, wanted in filters.metadata.items():
        path = "$." + json.dumps(key)
        values = wanted if isinstance(wanted, list) else [wanted]
        clauses.append(f"json_extract(c.metadata, ?) IN ({','.join('?' * len(values))})")
        params += [path, *values]
    return ("".join(" AND " + clause for clause in clauses), params)
