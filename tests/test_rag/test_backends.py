"""The same behaviour on every backend (embedded, pgvector, Qdrant local), with real embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from services.rag_service import DocumentInput, RAGService, SearchRequest
from services.vectorstores.base import ChunkRecord, SearchFilter

CORPUS = [
    ("paris", "The Eiffel Tower is a wrought-iron lattice tower in Paris, completed in 1889.", "guide"),
    ("photo", "Photosynthesis lets plants turn sunlight, water and carbon dioxide into glucose.", "science"),
    ("redis", "Redis is an in-memory key-value store, often used as a cache or message broker.", "tech"),
    ("kafka", "Apache Kafka is a distributed event streaming platform for high-throughput pipelines.", "tech"),
    ("tides", "Ocean tides are caused by the gravitational pull of the Moon and the Sun.", "science"),
    ("zx81", "The ZX81 home computer shipped with 1 KB of RAM and a membrane keyboard.", "history"),
]


def _index(rag: RAGService, collection: str = "default") -> dict[str, str]:
    docs = [
        DocumentInput(
            content=text, source=f"{key}.txt", source_type=kind, metadata={"topic": kind, "key": key}, document_id=key
        )
        for key, text, kind in CORPUS
    ]
    rag.index_documents(docs, collection)
    return {key: text for key, text, _ in CORPUS}


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_mode_finds_the_right_document(rag: RAGService, mode: str) -> None:
    _index(rag)
    hits = rag.search(
        SearchRequest(query="Which tower was finished in 1889 in Paris?", mode=mode, min_score=0, limit=3)
    )
    assert hits[0].source == "paris.txt"
    assert hits[0].metadata["key"] == "paris"
    assert hits[0].cosine > 0.5
    assert len(hits) <= 3


def test_lexical_matches_a_rare_exact_term_dense_misses(rag: RAGService) -> None:
    _index(rag)
    lexical = rag.search(SearchRequest(query="ZX81", mode="lexical", min_score=0, limit=1))
    assert [hit.source for hit in lexical] == ["zx81.txt"]
    hybrid = rag.search(SearchRequest(query="ZX81", min_score=0, limit=2))
    assert "zx81.txt" in [hit.source for hit in hybrid]


def test_threshold_filters_on_cosine(rag: RAGService) -> None:
    _index(rag)
    strict = rag.search(SearchRequest(query="Eiffel Tower in Paris", min_score=0.5, limit=10))
    assert [hit.source for hit in strict] == ["paris.txt"]
    assert all(hit.cosine >= 0.5 for hit in strict)
    loose = rag.search(SearchRequest(query="Eiffel Tower in Paris", min_score=0, limit=10, mode="dense"))
    assert len(loose) == len(CORPUS)
    assert [hit.cosine for hit in loose] == sorted((hit.cosine for hit in loose), reverse=True)


def test_source_type_and_metadata_filters(rag: RAGService) -> None:
    _index(rag)
    tech = rag.search(SearchRequest(query="a place to keep data", source_types=("tech",), min_score=0, limit=10))
    assert sorted(hit.source for hit in tech) == ["kafka.txt", "redis.txt"]
    either = rag.search(
        SearchRequest(query="science", metadata={"topic": ["science", "history"]}, min_score=0, limit=10)
    )
    assert sorted(hit.metadata["key"] for hit in either) == ["photo", "tides", "zx81"]
    one = rag.search(SearchRequest(query="anything", metadata={"key": "tides"}, min_score=0, limit=10, mode="dense"))
    assert [hit.metadata["key"] for hit in one] == ["tides"]


def test_missing_collection_is_empty(rag: RAGService) -> None:
    assert rag.search(SearchRequest(query="anything", collection="nothing_here")) == []
    assert rag.collections() == []


def test_project_document_chunks_ids_and_replacement(rag: RAGService) -> None:
    text = "Kubernetes schedules containers onto nodes. " * 60
    collection, chunks = rag.index_project_document(
        document_id="doc-1",
        project_id="p1",
        filename="k8s.md",
        content=text,
        file_type="md",
        chunk_size=500,
        chunk_overlap=100,
    )
    assert collection == "project_p1" and chunks == 7
    assert rag.stats()["collections"]["project_p1"]["pointsCount"] == 7
    hits = rag.search(SearchRequest(query="container scheduling", collection="project_p1", min_score=0, limit=100))
    assert len(hits) == 7
    first = min(hits, key=lambda hit: hit.metadata["chunk_index"])
    assert first.source == "k8s.md (chunk 1/7)"
    assert first.source_type == "project_document"
    assert first.metadata == {
        "document_id": "doc-1",
        "project_id": "p1",
        "filename": "k8s.md",
        "file_type": "md",
        "chunk_index": 0,
        "total_chunks": 7,
        "chunk_id": "doc-1_chunk_0",
    }
    # Re-indexing the same document id replaces all its chunks (here: fewer of them).
    rag.index_project_document(
        document_id="doc-1", project_id="p1", filename="k8s.md", content="Short now.", file_type="md"
    )
    hits = rag.search(SearchRequest(query="anything", collection="project_p1", min_score=0, limit=100))
    assert [(hit.content, hit.source) for hit in hits] == [("Short now.", "k8s.md (chunk 1/1)")]


def test_delete_document_and_collection(rag: RAGService) -> None:
    _index(rag, "keep")
    assert rag.delete_document("keep", "redis") == 1
    assert rag.delete_document("keep", "redis") == 0
    sources = {hit.source for hit in rag.search(SearchRequest(query="cache", collection="keep", min_score=0, limit=10))}
    assert "redis.txt" not in sources and len(sources) == len(CORPUS) - 1
    assert rag.collections() == ["keep"]
    assert rag.delete_collection("keep") is True
    assert rag.delete_collection("keep") is False
    assert rag.collections() == []


def test_selective_filter_still_returns_k(rag: RAGService) -> None:
    """1,000 chunks, 2% tagged: a filtered nearest-neighbour search must still return k of them."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(1000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    records = [
        ChunkRecord(
            id=f"00000000-0000-4000-8000-{i:012d}",
            document_id=f"d{i}",
            content=f"synthetic chunk {i}",
            source=f"s{i}",
            source_type="rare" if i % 50 == 0 else "common",
            metadata={"document_id": f"d{i}", "bucket": "rare" if i % 50 == 0 else "common"},
            vector=vectors[i],
        )
        for i in range(1000)
    ]
    physical = rag.physical("big")
    rag.store.upsert(physical, records, [])
    query = vectors[1]  # a common chunk: nearest neighbours are mostly untagged
    by_type = rag.store.dense_search(physical, query, 10, SearchFilter(source_types=("rare",)))
    by_metadata = rag.store.dense_search(physical, query, 10, SearchFilter(metadata={"bucket": "rare"}))
    expected = sorted(range(0, 1000, 50), key=lambda i: -float(vectors[i] @ query))[:10]
    for hits in (by_type, by_metadata):
        assert len(hits) == 10
        assert all(hit.source_type == "rare" for hit in hits)
        # HNSW backends are approximate: allow a near miss, never a short or unfiltered answer.
        assert len({hit.source for hit in hits} & {f"s{i}" for i in expected}) >= 8
    assert rag.store.collection_stats(physical).points == 1000


def test_pgvector_failure_halfway_rolls_back(pg_rag: RAGService) -> None:
    """A real failure inside the write (a trigger aborts the 3rd insert) leaves the old version
    (the embedded store's equivalent is in test_api)."""
    from services.vectorstores.base import VectorStoreError

    rag = pg_rag

    rag.index_documents([DocumentInput(content="Original kept text.", source="keep", document_id="keep")])
    with rag.store._cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION rag_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.content LIKE '%POISON%' THEN RAISE EXCEPTION 'simulated disk failure'; END IF; RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER rag_test_poison BEFORE INSERT ON rag_chunk FOR EACH ROW EXECUTE FUNCTION rag_test_poison()"
        )
    try:
        docs = [
            DocumentInput(content="New one.", source="n1", document_id="n1"),
            DocumentInput(content="Replacement text.", source="keep", document_id="keep"),
            DocumentInput(content="POISON here.", source="n3", document_id="n3"),
        ]
        with pytest.raises(VectorStoreError, match="simulated disk failure"):
            rag.index_documents(docs)
    finally:
        with rag.store._cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS rag_test_poison ON rag_chunk")
            cursor.execute("DROP FUNCTION IF EXISTS rag_test_poison()")
    hits = rag.search(SearchRequest(query="text", min_score=0, limit=10))
    assert [hit.content for hit in hits] == ["Original kept text."]


def test_store_survives_a_restart(rag: RAGService, tmp_path) -> None:
    """A fresh store object (a restarted process) sees what the first one wrote."""
    _index(rag, "durable")
    if rag.store.name == "qdrant":
        rag.store.client.close()  # local mode holds a file lock until closed
    reopened = RAGService(type(rag.store)(**_reopen_args(rag.store, tmp_path)), rag.prefix)
    hits = reopened.search(SearchRequest(query="tides and the Moon", collection="durable", min_score=0, limit=1))
    assert [hit.source for hit in hits] == ["tides.txt"]
    rag.store = reopened.store  # the fixture cleans up through the live object


def _reopen_args(store, tmp_path) -> dict:
    if store.name == "embedded":
        return {"path": store.path}
    if store.name == "pgvector":
        return {"dsn": store.dsn}
    from qdrant_client import QdrantClient

    return {"client": QdrantClient(path=str(tmp_path / "qdrant"))}


def test_embedded_store_sees_writes_from_another_process(tmp_path) -> None:
    """Two store objects on one file stand for two server workers: appends and deletions made by
    one are visible to the other's cached matrix on its next search."""
    from services.vectorstores.embedded import EmbeddedStore

    writer, reader = EmbeddedStore(tmp_path / "v.sqlite3"), EmbeddedStore(tmp_path / "v.sqlite3")
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(3, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    def record(i: int) -> ChunkRecord:
        return ChunkRecord(
            f"00000000-0000-4000-8000-00000000000{i}", f"d{i}", f"text {i}", f"s{i}", "t", {}, vectors[i]
        )

    writer.upsert("c", [record(0)], [])
    assert [h.source for h in reader.dense_search("c", vectors[0], 5, SearchFilter())] == ["s0"]
    writer.upsert("c", [record(1), record(2)], [])  # an append: loaded incrementally
    assert sorted(h.source for h in reader.dense_search("c", vectors[0], 5, SearchFilter())) == ["s0", "s1", "s2"]
    writer.delete_document("c", "d1")  # a deletion: full reload
    assert sorted(h.source for h in reader.dense_search("c", vectors[1], 5, SearchFilter())) == ["s0", "s2"]
    writer.delete_collection("c")
    assert reader.dense_search("c", vectors[0], 5, SearchFilter()) == []


@pytest.mark.parametrize("query", ["O'Reilly's \"quoted\" (tower) & | ! : * \\ Paris", "the of and", "ÉIFFEL tôwer"])
def test_lexical_survives_operator_characters_and_stop_words(rag: RAGService, query: str) -> None:
    _index(rag)
    hits = rag.search(SearchRequest(query=query, mode="lexical", min_score=0, limit=3))
    if query == "the of and":
        assert hits == []  # only stop words: nothing to match
    elif query.startswith("ÉIFFEL") and rag.store.name != "embedded":
        assert hits == []  # only FTS5 folds diacritics; the others must simply not fail
    else:
        assert hits[0].source == "paris.txt"


def test_embedded_scan_split_between_threads_gives_the_same_results(tmp_path, monkeypatch) -> None:
    """Row blocks scored by several threads: the same scores (to float rounding: BLAS kernels may
    sum a block's tail in another order), so the same hits in the same order, as one thread
    scoring the whole matrix (filters included)."""
    from services.vectorstores import embedded

    monkeypatch.setattr(embedded, "PARALLEL_SCAN_MIN_ROWS", 4)
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(40, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(embedded._scan(vectors, vectors[0], 3), vectors @ vectors[0], atol=1e-6)

    split = embedded.EmbeddedStore(tmp_path / "v.sqlite3", scan_threads=3)
    single = embedded.EmbeddedStore(tmp_path / "v.sqlite3", scan_threads=1)
    split.upsert(
        "c",
        [
            ChunkRecord(f"00000000-0000-4000-8000-{i:012d}", f"d{i}", f"text {i}", f"s{i}", "ab"[i % 2], {}, v)
            for i, v in enumerate(vectors)
        ],
        [],
    )
    for filters in (SearchFilter(), SearchFilter(source_types=("b",))):
        expected = single.dense_search("c", vectors[3], 7, filters)
        found = split.dense_search("c", vectors[3], 7, filters)
        assert [h.source for h in found] == [h.source for h in expected] and len(found) == 7
        assert [h.cosine for h in found] == pytest.approx([h.cosine for h in expected], abs=1e-6)
