"""Documents into RAG: files through POST /rag/documents against their text through /rag/index/batch.

    .venv/bin/python benchmarks/documents.py [--documents 200] [--files-per-request 10]

Makes N mixed documents in memory (PDF, HTML, Markdown and DOCX in turn, 3-5 KB of text each,
as in tests/test_rag/document_files.py), starts our server (granian, 1 worker, embedded store in a temp
folder, embedding cache off so neither route is served from the other's vectors), then:

1. uploads them, ``--files-per-request`` files per multipart request, to POST /rag/documents;
2. same-run baseline: extracts the same texts in this process (services.documents, the server's
   own functions), cuts them with the same chunker and settings, and sends exactly those chunks,
   grouped as the uploads were, to the JSON POST /rag/index/batch.

Both routes embed and store the same chunks, so the ratio is the cost of the upload path itself
(multipart parsing, format detection, text extraction). Prints documents/s and chunks/s for each.
Do not quote the speed from a loaded machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings.test")

import django

django.setup()
logging.getLogger("httpx").setLevel(logging.WARNING)  # the test settings log every request

from benchmarks._harness import ROOT, django_server  # noqa: E402
from services.chunking import chunk_text  # noqa: E402
from services.documents import detect_format, extract_text  # noqa: E402
from tests.test_rag.document_files import docx_bytes, html_bytes, markdown_bytes, pdf_bytes  # noqa: E402

CHUNK_SIZE, CHUNK_OVERLAP = 1000, 200
WORDS = (
    "system data model index vector query search result document page river mountain energy "
    "policy invoice archive engine network signal memory cache storage reactor cooling budget "
    "report meeting schedule customer contract release backup server latency throughput error"
).split()
KINDS = ("pdf", "html", "md", "docx")


def paragraphs(rng: random.Random, number: int) -> list[str]:
    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
        return " ".join(words).capitalize() + "."

    return [f"Document {number}. " + " ".join(sentence() for _ in range(rng.randint(5, 8))) for _ in range(5)]


def make_documents(count: int) -> list[tuple[str, bytes, str]]:
    """(file name, bytes, MIME type) for ``count`` documents, the four kinds in turn."""
    rng = random.Random(14)
    files = []
    for number in range(count):
        kind = KINDS[number % len(KINDS)]
        text = paragraphs(rng, number)
        title = f"Report {number}"
        if kind == "pdf":
            # One paragraph per page, wrapped at about 90 characters a line.
            pages = [[p[i : i + 90] for i in range(0, len(p), 90)] for p in text]
            files.append((f"doc{number}.pdf", pdf_bytes(pages), "application/pdf"))
        elif kind == "html":
            files.append((f"doc{number}.html", html_bytes(title, text), "text/html"))
        elif kind == "md":
            files.append((f"doc{number}.md", markdown_bytes(title, text), "text/markdown"))
        else:
            mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            files.append((f"doc{number}.docx", docx_bytes(title, text), mime))
    return files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--files-per-request", type=int, default=10)
    args = parser.parse_args()
    files = make_documents(args.documents)
    groups = [files[i : i + args.files_per_request] for i in range(0, len(files), args.files_per_request)]
    extracted = {
        name: extract_text(data, detect_format(data, filename=name), name=name).text for name, data, _ in files
    }
    size = sum(len(data) for _, data, _ in files)
    print(f"{len(files)} documents ({', '.join(KINDS)} in turn), {size / 1e6:.2f} MB, {len(groups)} requests each way")

    server_env = {"RAG_VECTOR_STORE": "embedded", "WARM_MODELS_ON_START": "true", "EMBEDDING_CACHE_ENABLED": "false"}
    models = ROOT / "var" / "models"
    if models.is_dir():  # reuse the exported ONNX model, as a deployed server would
        server_env["EMBEDDING_MODELS_DIR"] = str(models)
    with django_server("granian", workers=1, **server_env) as base:
        client = httpx.Client(base_url=base, timeout=600)
        warm = client.post("/rag/documents", data={"collection": "warmup"}, files=[("files", files[0])])
        warm.raise_for_status()

        started = time.perf_counter()
        upload_chunks = 0
        for group in groups:
            response = client.post(
                "/rag/documents",
                data={"collection": "uploads", "chunkSize": str(CHUNK_SIZE), "chunkOverlap": str(CHUNK_OVERLAP)},
                files=[("files", (name, data, mime)) for name, data, mime in group],
            )
            if response.status_code != 201:
                raise SystemExit(f"/rag/documents answered {response.status_code}: {response.text[:500]}")
            upload_chunks += response.json()["chunksCreated"]
        upload_seconds = time.perf_counter() - started

        started = time.perf_counter()
        batch_chunks = 0
        for group in groups:
            documents = [
                {"content": chunk, "source": f"{name} (chunk {i + 1})", "documentId": f"{name}_chunk_{i}"}
                for name, _, _ in group
                for i, chunk in enumerate(chunk_text(extracted[name], CHUNK_SIZE, CHUNK_OVERLAP))
            ]
            response = client.post("/rag/index/batch", json={"collection": "batch", "documents": documents})
            response.raise_for_status()
            batch_chunks += len(documents)
        batch_seconds = time.perf_counter() - started
        points = client.get("/rag/stats").json()["stats"]["collections"]

    assert points["uploads"]["pointsCount"] == upload_chunks == batch_chunks == points["batch"]["pointsCount"], points
    count = len(files)
    print(f"\n{'route':<34} {'documents/s':>12} {'chunks/s':>10} {'seconds':>8}")
    print(
        f"{'POST /rag/documents (multipart)':<34} {count / upload_seconds:12.1f} "
        f"{upload_chunks / upload_seconds:10.1f} {upload_seconds:8.1f}"
    )
    print(
        f"{'POST /rag/index/batch (same chunks)':<34} {count / batch_seconds:12.1f} "
        f"{batch_chunks / batch_seconds:10.1f} {batch_seconds:8.1f}"
    )
    print(f"ratio upload / JSON batch: {batch_seconds / upload_seconds:.2f} ({upload_chunks} chunks each way)")


if __name__ == "__main__":
    main()
