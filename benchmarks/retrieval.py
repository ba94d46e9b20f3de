"""Retrieval benchmark: SciFact through the HTTP API, then 100k-chunk latency per backend.

    .venv/bin/python benchmarks/retrieval.py [--skip-scifact] [--skip-scale] [--skip-rerank] [--scale-chunks 100000]

1. Starts our server (granian WSGI, 1 worker, embedded store in a temp folder), indexes the
   5,183 SciFact abstracts (title + text, one point each) through POST /rag/index/batch, runs the
   300 test queries through POST /rag/search in each mode (limit 10, minScore 0: the BEIR
   protocol has no threshold; hybrid once more with ``rerank: true``, the configured reranker over
   40 candidates) and prints nDCG@10 next to the published figures of
   ../shared/eval/README.md. Same-run baselines: raw in-process embedding throughput for the
   indexing rate, and GET /health/live for the HTTP floor under search latency.
   The threshold: in each mode at the contract's minScore 0.5, the share of the 300 SciFact test
   queries with at least one result, and of 600 off-topic queries (300 AG News titles, 300 SST-2
   sentences, fixed random samples) searched against SciFact with none. Baseline in the same run:
   the old rule, minScore on the raw cosine (the best cosine is the dense top hit's, recomputed
   in-process; hybrid nDCG@10 under it filters the top 10 of the hybrid@0 round).
2. Puts N synthetic chunks (random unit vectors, text drawn from the SciFact vocabulary) in each
   backend (embedded, pgvector when PostgreSQL is reachable, Qdrant local mode) and reports p50/p99
   of dense and lexical searches, called in-process (the store alone, no embedding, no HTTP).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._harness import ROOT, django_server

EVAL = (ROOT / ".." / "shared" / "eval").resolve()
SCIFACT = EVAL / "scifact"
OFF_TOPIC_EACH = 300
PUBLISHED = {
    "dense": "all-MiniLM-L6-v2 dense 0.645 (MTEB); bge-small-en-v1.5 0.713",
    "lexical": "BM25 0.687 (bm25s), 0.679 (Anserini); 0.686 stemmed+stop words on this copy",
    "hybrid": "goal >= 0.72",
    "hybrid+rerank": "the configured reranker over 40 hybrid candidates (local method when none is set)",
}
BATCH = 64


def load_scifact() -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()]
    queries = {row["_id"]: row["text"] for row in map(json.loads, (SCIFACT / "queries.jsonl").open())}
    qrels: dict[str, dict[str, int]] = {}
    with (SCIFACT / "qrels" / "test.tsv").open() as handle:
        next(handle)
        for line in handle:
            query_id, doc_id, score = line.split()
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    return corpus, queries, qrels


def load_off_topic() -> dict[str, list[str]]:
    """Queries from other corpora, none about SciFact's biomedical claims: AG News titles and SST-2
    movie-review sentences (fixed samples)."""
    import csv

    with (EVAL / "ag_news" / "test.csv").open(newline="") as handle:
        titles = [row[1] for row in csv.reader(handle)]
    with (EVAL / "sst2" / "dev.tsv").open() as handle:
        next(handle)
        sentences = [line.split("\t")[0] for line in handle]
    return {
        "ag_news": random.Random(0).sample(titles, OFF_TOPIC_EACH),
        "sst2": random.Random(0).sample(sentences, OFF_TOPIC_EACH),
    }


def raw_cosines(pairs: list[tuple[str, str]]) -> list[float]:
    """Cosine of each (query, passage) pair with the server's embedding model, in-process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings.test")
    import django

    django.setup()
    from services import embedding_service

    service = embedding_service.get_instance()
    cosines: list[float] = []
    for start in range(0, len(pairs), BATCH // 2):
        batch = pairs[start : start + BATCH // 2]
        vectors = service.embed([text for pair in batch for text in pair]).vectors
        cosines += [float(vectors[2 * i] @ vectors[2 * i + 1]) for i in range(len(batch))]
    return cosines


def ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    return dcg / sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def raw_embedding_rate(texts: list[str]) -> float:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings.test")
    import django

    django.setup()
    from services import embedding_service

    service = embedding_service.get_instance()
    service.embed(texts[:8])  # load the model outside the timing
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        service.embed(texts[start : start + BATCH])
    return len(texts) / (time.perf_counter() - started)


def run_scifact(skip_rerank: bool = False) -> None:
    corpus, queries, qrels = load_scifact()
    off_topic = load_off_topic()
    texts = [f"{doc['title']}\n{doc['text']}".strip() for doc in corpus]
    sample = random.Random(1).sample(texts, 256)
    server_env = {"RAG_VECTOR_STORE": "embedded", "WARM_MODELS_ON_START": "true"}
    models = ROOT / "var" / "models"
    if models.is_dir():  # reuse the exported ONNX model, as a deployed server would
        server_env["EMBEDDING_MODELS_DIR"] = str(models)
    with django_server("granian", workers=1, **server_env) as base:
        client = httpx.Client(base_url=base, timeout=600)
        started = time.perf_counter()
        for start in range(0, len(corpus), BATCH):
            documents = [
                {
                    "content": texts[i],
                    "source": corpus[i]["_id"],
                    "documentId": corpus[i]["_id"],
                    "sourceType": "abstract",
                }
                for i in range(start, min(start + BATCH, len(corpus)))
            ]
            response = client.post("/rag/index/batch", json={"collection": "scifact", "documents": documents})
            response.raise_for_status()
        index_seconds = time.perf_counter() - started
        http_rate = len(corpus) / index_seconds
        stats = client.get("/rag/stats").json()["stats"]["collections"]["scifact"]
        print(f"SciFact: {stats['pointsCount']} documents indexed over HTTP in {index_seconds:.1f} s")

        floor = []
        for _ in range(100):
            t = time.perf_counter()
            client.get("/health/live")
            floor.append((time.perf_counter() - t) * 1000)
        results: dict[str, float] = {}
        latencies: dict[str, list[float]] = {}
        hybrid_top: dict[str, list[dict]] = {}  # hybrid@0 top 10 per query, for the raw-cosine baseline
        rounds = [("dense", 0), ("lexical", 0), ("hybrid", 0), ("hybrid@0.5", 0.5)]
        if not skip_rerank:  # the same hybrid search, its max(10 * 4, 20) = 40 candidates reranked
            rounds.append(("hybrid+rerank", 0))
        for mode, min_score in rounds:
            scores, times = [], []
            for query_id, relevant in qrels.items():
                body = {
                    "query": queries[query_id],
                    "collection": "scifact",
                    "limit": 10,
                    "minScore": min_score,
                    "mode": mode.split("@")[0].split("+")[0],
                    "rerank": mode.endswith("+rerank"),
                }
                t = time.perf_counter()
                response = client.post("/rag/search", json=body)
                times.append((time.perf_counter() - t) * 1000)
                response.raise_for_status()
                ranked = [hit["source"] for hit in response.json()["results"]]
                scores.append(ndcg_at_10(ranked, relevant))
                if mode == "hybrid":
                    hybrid_top[query_id] = response.json()["results"]
            results[mode] = statistics.fmean(scores)
            latencies[mode] = times

        def found(query: str, mode: str, min_score: float, limit: int = 10) -> list[dict]:
            body = {"query": query, "collection": "scifact", "limit": limit, "minScore": min_score, "mode": mode}
            response = client.post("/rag/search", json=body)
            response.raise_for_status()
            return response.json()["results"]

        sets = {"scifact": [queries[query_id] for query_id in qrels], **off_topic}
        answered = {
            (mode, name): statistics.fmean(bool(found(query, mode, 0.5)) for query in texts_)
            for mode in ("dense", "lexical", "hybrid")
            for name, texts_ in sets.items()
        }
        best = {
            name: [(query, found(query, "dense", 0, 1)[0]["content"]) for query in texts_]
            for name, texts_ in sets.items()
        }

    rate = raw_embedding_rate(sample)
    best_cosine = {name: raw_cosines(pairs) for name, pairs in best.items()}
    query_ids = list(hybrid_top)
    top_pairs = [(queries[query_id], hit["content"]) for query_id in query_ids for hit in hybrid_top[query_id]]
    top_cosines = iter(raw_cosines(top_pairs))
    raw_ndcg = []
    for query_id in query_ids:
        kept = [hit["source"] for hit in hybrid_top[query_id] if next(top_cosines) >= 0.5]
        raw_ndcg.append(ndcg_at_10(kept, qrels[query_id]))
    print("\nnDCG@10 on SciFact test (300 queries), local all-MiniLM-L6-v2 + SQLite FTS5 BM25, embedded store")
    print(f"  {'mode':<12} {'ours':>7}   published on the same data")
    for mode in ("dense", "lexical", "hybrid", "hybrid+rerank"):
        if mode in results:
            print(f"  {mode:<13} {results[mode]:7.4f}   {PUBLISHED[mode]}")
    print(
        f"  {'hybrid@0.5':<12} {results['hybrid@0.5']:7.4f}   contract default minScore 0.5 on the calibrated score;"
        f" on the raw cosine (old rule, same run): {statistics.fmean(raw_ndcg):.4f}"
    )
    print("\nThe contract's minScore 0.5 (calibrated score, services/rag_calibration.py) vs the raw cosine")
    print(f"  {'':<22} {'dense':>7} {'lexical':>8} {'hybrid':>7}   raw cosine >= 0.5 (old, any mode)")
    for name in sets:
        share = [answered[(mode, name)] for mode in ("dense", "lexical", "hybrid")]
        raw = statistics.fmean(cosine >= 0.5 for cosine in best_cosine[name])
        if name == "scifact":
            label, shown, raw_shown = "SciFact: >= 1 result", share, raw
        else:
            label, shown, raw_shown = f"{name}: no result", [1 - x for x in share], 1 - raw
        print(f"  {label:<22} {shown[0]:7.3f} {shown[1]:8.3f} {shown[2]:7.3f}   {raw_shown:.3f}")
    print("  goals: SciFact >= 0.95 with a result; off-topic >= 0.8 with none")
    print("\nIndexing over HTTP (/rag/index/batch, 64 docs a request)")
    print(
        f"  {http_rate:7.1f} docs/s; raw in-process embedding of 256 sampled docs: {rate:.1f} docs/s "
        f"(ratio {http_rate / rate:.2f})"
    )
    print("\nSearch latency over HTTP, ms (query embedding + store + fusion)")
    print(f"  {'mode':<12} {'p50':>7} {'p99':>7}")
    for mode, times in latencies.items():
        print(f"  {mode:<12} {percentile(times, 50):7.1f} {percentile(times, 99):7.1f}")
    print(f"  {'GET /health/live (HTTP floor)':<12} p50 {percentile(floor, 50):.2f} ms")


def synthetic_records(count: int, dimensions: int = 384) -> list:
    from services.vectorstores.base import ChunkRecord

    corpus, _, _ = load_scifact()
    vocabulary = sorted({word for doc in corpus[:2000] for word in doc["text"].lower().split() if word.isalpha()})
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(count, dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    picks = rng.integers(0, len(vocabulary), size=(count, 60))
    return [
        ChunkRecord(
            id=str(uuid.UUID(int=i + 1)),
            document_id=f"doc{i // 4}",
            content=" ".join(vocabulary[j] for j in picks[i]),
            source=f"doc{i // 4}",
            source_type="synthetic" if i % 10 else "tagged",
            metadata={"document_id": f"doc{i // 4}"},
            vector=vectors[i],
        )
        for i in range(count)
    ], vocabulary


def time_store(name: str, store, records: list, vocabulary: list[str], queries: int = 200) -> None:
    from services.vectorstores.base import SearchFilter

    started = time.perf_counter()
    bulk = name.startswith("pgvector")
    store.upsert("bench", records[:2000], [])
    if bulk:  # a bulk import: load without the HNSW index, then build it once (timed in the load)
        with store._cursor() as cursor:
            cursor.execute("DROP INDEX IF EXISTS rag_chunk_hnsw_384")
    for start in range(2000, len(records), 2000):
        store.upsert("bench", records[start : start + 2000], [])
    if bulk:
        from services.vectorstores.pgvector import hnsw_index_sql

        with store._cursor() as cursor:
            cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            cursor.execute(hnsw_index_sql(384))
            cursor.execute("ANALYZE rag_chunk")
    load_seconds = time.perf_counter() - started
    rng = np.random.default_rng(1)
    query_vectors = rng.normal(size=(queries, records[0].vector.shape[0])).astype(np.float32)
    query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
    words = random.Random(2)
    store.dense_search("bench", query_vectors[0], 10, SearchFilter())  # load caches
    timings: dict[str, list[float]] = {"dense": [], "dense+filter": [], "lexical": []}
    searches = {
        "dense": lambda v: store.dense_search("bench", v, 10, SearchFilter()),
        "dense+filter": lambda v: store.dense_search("bench", v, 10, SearchFilter(source_types=("tagged",))),
        "lexical": lambda v: store.lexical_search(
            "bench", " ".join(words.sample(vocabulary, 8)), v, 100, SearchFilter()
        ),
    }
    for vector in query_vectors:
        for kind, search in searches.items():
            t = time.perf_counter()
            hits = search(vector)
            timings[kind].append((time.perf_counter() - t) * 1000)
            assert kind == "lexical" or len(hits) == 10, f"{name} {kind} returned {len(hits)}"
    print(
        f"  {name:<16} load {len(records) / load_seconds:8.0f} chunks/s | "
        + " | ".join(f"{kind} p50 {percentile(t, 50):6.2f} p99 {percentile(t, 99):6.2f}" for kind, t in timings.items())
    )
    store.delete_collection("bench")


def pg_store(url: str = "postgres://postgres@127.0.0.1:5432/postgres", database: str = "mlservice_rag"):
    import psycopg

    from services.vectorstores.pgvector import PgVectorStore

    with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            conn.execute(f"CREATE DATABASE {database}")
    return PgVectorStore(dsn=url.rsplit("/", 1)[0] + "/" + database)


def run_scale(count: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings.test")
    import django

    django.setup()
    from services.vectorstores.embedded import EmbeddedStore
    from services.vectorstores.qdrant import QdrantStore

    records, vocabulary = synthetic_records(count)
    print(f"\n{count:,} synthetic chunks (384-d), store calls in-process, ms (k=10 dense, k=100 lexical)")
    with tempfile.TemporaryDirectory() as folder:
        time_store("embedded", EmbeddedStore(Path(folder) / "v.sqlite3"), records, vocabulary)
        try:
            store = pg_store()
        except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional here
            print(f"  pgvector         skipped: {exc}")
        else:
            time_store("pgvector (HNSW)", store, records, vocabulary)
        qdrant_count = min(count, 20_000)  # local mode is pure Python: 100k would take most of an hour
        print(f"  (qdrant local mode with {qdrant_count:,} chunks, in memory)")
        time_store("qdrant (local)", QdrantStore.from_url(":memory:"), records[:qdrant_count], vocabulary, queries=50)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-scifact", action="store_true")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-rerank", action="store_true", help="no hybrid+rerank round (/rag/search rerank: true)")
    parser.add_argument("--scale-chunks", type=int, default=100_000)
    args = parser.parse_args()
    if not args.skip_scifact:
        run_scifact(skip_rerank=args.skip_rerank)
    if not args.skip_scale:
        run_scale(args.scale_chunks)


if __name__ == "__main__":
    main()
