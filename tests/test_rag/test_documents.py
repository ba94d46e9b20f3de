"""POST /rag/documents and index_documents with real files (PDF, DOCX, HTML, Markdown, text) on the
embedded store and the real embedding model."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from services.documents import detect_format, extract_text
from services.rag_service import SearchRequest

from .document_files import docx_bytes, html_bytes, markdown_bytes, pdf_bytes

pytestmark = pytest.mark.usefixtures("embedded_api")

FACTS = {
    "pdf": "Invoices are archived for seven years in the basement vault.",
    "docx": "The orchestra rehearses every Thursday evening in the old theatre.",
    "html": "Glaciers in Patagonia retreat several metres each summer.",
    "md": "Sourdough bread needs a starter fed with flour and water.",
    "txt": "The lighthouse keeper logs the weather at dawn and dusk.",
}


def _file(name: str, data: bytes, content_type: str = "application/octet-stream") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    handle.content_type = content_type  # Django's multipart encoder sends it
    return handle


def _files() -> dict[str, bytes]:
    return {
        "policy.pdf": pdf_bytes([["Finance policy"], [FACTS["pdf"]]]),
        "music.docx": docx_bytes("Music club", [FACTS["docx"]], [["day", "Thursday"]]),
        "ice.html": html_bytes("Glaciers", [FACTS["html"].replace("Patagonia", "<b>Patagonia</b>")]),
        "bread.md": markdown_bytes("Baking", [FACTS["md"]]),
        "light.txt": FACTS["txt"].encode(),
    }


def _upload(api, files: dict[str, bytes], path: str = "/rag/documents", **fields):
    body = {"files": [_file(name, data) for name, data in files.items()], **fields}
    return api.post(path, body, format="multipart")


def _search(api, query: str, collection: str) -> list[dict]:
    response = api.post(
        "/rag/search", {"query": query, "collection": collection, "minScore": 0, "limit": 1}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["results"]


def test_upload_every_format_then_search_finds_each(api) -> None:
    response = _upload(api, _files(), collection="docs", metadata=json.dumps({"team": "ops"}))
    body = response.json()
    assert response.status_code == 201, body
    assert body["collection"] == "docs" and len(body["documents"]) == 5
    formats = {d["filename"]: d["format"] for d in body["documents"]}
    assert formats == {
        "policy.pdf": "pdf",
        "music.docx": "docx",
        "ice.html": "html",
        "bread.md": "markdown",
        "light.txt": "text",
    }
    pdf = next(d for d in body["documents"] if d["format"] == "pdf")
    assert pdf["pages"] == 2 and pdf["chunksCreated"] == 1
    assert body["chunksCreated"] == sum(d["chunksCreated"] for d in body["documents"]) == 5

    for name, query in [
        ("policy.pdf", "how long are invoices kept"),
        ("music.docx", "when does the orchestra rehearse"),
        ("ice.html", "glaciers retreating in summer"),
        ("bread.md", "what does sourdough need"),
        ("light.txt", "who logs the weather"),
    ]:
        hit = _search(api, query, "docs")[0]
        assert hit["source"] == f"{name} (chunk 1/1)", (query, hit)
        assert hit["metadata"]["team"] == "ops" and hit["metadata"]["filename"] == name
    html_hit = _search(api, "glaciers retreating in summer", "docs")[0]
    assert "Glaciers in Patagonia retreat" in html_hit["content"] and "SCRIPT_TEXT" not in html_hit["content"]
    assert "Thursday" in _search(api, "when does the orchestra rehearse", "docs")[0]["content"]


def test_upload_is_chunked_by_the_form_settings_and_idempotent(api, embedded_api) -> None:
    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(200))
    response = _upload(api, {"long.txt": text.encode()}, collection="long", chunkSize="500", chunkOverlap="50")
    assert response.status_code == 201, response.json()
    chunks = response.json()["documents"][0]["chunksCreated"]
    assert chunks > 10
    again = _upload(api, {"long.txt": text.encode()}, collection="long", chunkSize="500", chunkOverlap="50")
    assert again.json()["documents"][0]["documentId"] == response.json()["documents"][0]["documentId"]
    assert embedded_api.stats()["collections"]["long"]["pointsCount"] == chunks  # replaced, not duplicated


def test_an_uploaded_document_is_deleted_by_its_id(api, embedded_api) -> None:
    response = _upload(api, {"light.txt": FACTS["txt"].encode(), "bread.md": FACTS["md"].encode()}, collection="del")
    document_id = response.json()["documents"][0]["documentId"]
    deleted = api.delete(f"/rag/documents/{document_id}?collection=del")
    assert deleted.status_code == 200, deleted.json()
    assert embedded_api.stats()["collections"]["del"]["pointsCount"] == 1
    assert api.get("/rag/documents").status_code == 405


def test_versioned_path_answers_200(api) -> None:
    response = _upload(api, {"light.txt": FACTS["txt"].encode()}, path="/api/v1/rag/documents", collection="v1")
    assert response.status_code == 200, response.json()


def test_a_corrupt_second_file_stores_nothing_of_the_request(api, embedded_api) -> None:
    first = _upload(api, {"light.txt": FACTS["txt"].encode()}, collection="atomic")
    assert first.status_code == 201
    broken_pdf = pdf_bytes([["fine"]])[:200]  # the signature, then nothing readable
    response = _upload(api, {"bread.md": FACTS["md"].encode(), "broken.pdf": broken_pdf}, collection="atomic")
    body = response.json()
    assert response.status_code == 422, body
    assert body["success"] is False and body["statusCode"] == 422 and "broken.pdf" in body["error"]
    assert embedded_api.stats()["collections"]["atomic"]["pointsCount"] == 1  # the earlier file is kept
    assert _search(api, "what does sourdough need", "atomic")[0]["source"] == "light.txt (chunk 1/1)"

    corrupt_docx = b"PK\x03\x04" + b"\x00" * 100
    response = _upload(api, {"bread.md": FACTS["md"].encode(), "bad.docx": corrupt_docx}, collection="atomic")
    assert response.status_code == 422 and "bad.docx" in response.json()["error"]
    assert embedded_api.stats()["collections"]["atomic"]["pointsCount"] == 1


def test_unsupported_type_is_415(api) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    response = _upload(api, {"picture.png": png}, collection="x")
    assert response.status_code == 415, response.json()
    assert response.json()["statusCode"] == 415
    assert _upload(api, {"archive.zip": b"PK\x03\x04" + b"\x00" * 40}).status_code == 415


@override_settings(RAG_UPLOAD_MAX_FILE_BYTES=2048)
def test_a_file_over_the_limit_is_413(api) -> None:
    response = _upload(api, {"big.txt": b"word " * 1000}, collection="x")
    assert response.status_code == 413, response.json()
    assert "RAG_UPLOAD_MAX_FILE_BYTES" in response.json()["error"]


@override_settings(RAG_UPLOAD_MAX_REQUEST_BYTES=4096)
def test_a_request_over_the_limit_is_413(api) -> None:
    response = _upload(api, {"a.txt": b"word " * 600, "b.txt": b"word " * 600}, collection="x")
    assert response.status_code == 413, response.json()


@override_settings(RAG_DOCUMENT_MAX_PAGES=2)
def test_too_many_pages_is_413(api) -> None:
    response = _upload(api, {"long.pdf": pdf_bytes([["a"], ["b"], ["c"]])}, collection="x")
    assert response.status_code == 413 and "RAG_DOCUMENT_MAX_PAGES" in response.json()["error"]


@override_settings(RAG_DOCUMENT_MAX_CHARS=1000)
def test_too_much_text_is_413(api) -> None:
    response = _upload(api, {"long.md": b"# t\n\n" + b"lorem ipsum " * 200}, collection="x")
    assert response.status_code == 413 and "RAG_DOCUMENT_MAX_CHARS" in response.json()["error"]


def test_form_errors_are_400(api) -> None:
    assert api.post("/rag/documents", {"collection": "x"}, format="multipart").status_code == 400
    bad_metadata = _upload(api, {"a.txt": b"hello there"}, metadata="[1, 2]")
    assert bad_metadata.status_code == 400 and "metadata" in json.dumps(bad_metadata.json())
    reserved = _upload(api, {"a.txt": b"hello there"}, metadata=json.dumps({"content": "x"}))
    assert reserved.status_code == 400
    assert _upload(api, {"a.txt": b"hello there"}, collection="bad name!").status_code == 400
    overlap = _upload(api, {"a.txt": b"hello there"}, chunkSize="200", chunkOverlap="300")
    assert overlap.status_code == 400


def test_detection_by_content_beats_the_name() -> None:
    pdf = pdf_bytes([["hello"]])
    assert detect_format(pdf, filename="misnamed.txt") == "pdf"
    assert detect_format(b"<!DOCTYPE html><p>x</p>", filename="") == "html"
    assert detect_format(b"plain words", filename="notes", content_type="text/plain") == "text"
    docx = docx_bytes("T", ["x"])
    assert detect_format(docx, filename="upload.bin") == "docx"
    text = extract_text(docx_bytes("Title", ["one"], [["a", "b"]]), "docx").text
    assert text == "Title\n\none\n\na\tb"


# --- manage.py index_documents -----------------------------------------------------------------
def test_jsonl_documents_are_chunked_and_counted_per_document(tmp_path, embedded_api, capsys) -> None:
    long_text = " ".join(f"Paragraph {i} explains the cooling system of reactor block {i}." for i in range(120))
    rows = [
        {"_id": "long", "title": "Reactor manual", "text": long_text},
        {"_id": "short", "text": "The canteen opens at noon."},
        "not json {",
        {"_id": "empty", "text": "   "},
        {"_id": "reserved", "text": "Metadata may not name a reserved key.", "metadata": {"content": "x"}},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows) + "\n")
    (tmp_path / "broken.pdf").write_bytes(pdf_bytes([["x"]])[:150])
    call_command("index_documents", str(tmp_path), "--collection", "jl", "--chunk-size", "400", "--chunk-overlap", "50")
    captured = capsys.readouterr()
    points = embedded_api.stats()["collections"]["jl"]["pointsCount"]
    assert points > 15  # the long document is chunked (at 400 characters), not cut at 256 tokens
    hits = embedded_api.search(SearchRequest(query="cooling system of reactor block 117", collection="jl", min_score=0))
    assert "block 117" in hits[0].content and hits[0].metadata["document_id"] == "long"
    assert "indexed 2 documents" in captured.out and "skipped 4" in captured.out
    assert "document 'reserved': metadata keys content are reserved" in captured.out
    assert "rows.jsonl:3: invalid JSON" in captured.out and "broken.pdf" in captured.out
    assert "rows.jsonl:4: no text" in captured.out
    assert "6/6" in captured.err  # the progress bar counts documents (5 lines and a file), not files


def test_index_documents_fails_only_when_nothing_was_indexed(tmp_path, embedded_api) -> None:
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    with pytest.raises(CommandError, match="nothing was indexed"):
        call_command("index_documents", str(tmp_path), "--collection", "none")


def test_index_documents_strict_fails_on_any_skip(tmp_path, embedded_api) -> None:
    (tmp_path / "good.docx").write_bytes(docx_bytes("Staff", ["The canteen opens at noon."]))
    (tmp_path / "bad.docx").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CommandError, match="1 documents skipped"):
        call_command("index_documents", str(tmp_path), "--collection", "strict", "--strict")
    hits = embedded_api.search(SearchRequest(query="when does the canteen open", collection="strict", min_score=0))
    assert hits[0].source == "good.docx (chunk 1/1)"  # what could be indexed still was


@override_settings(RAG_DOCUMENT_MAX_SECONDS=0)
def test_pdf_extraction_is_bounded_in_time(api) -> None:
    response = _upload(api, {"slow.pdf": pdf_bytes([["a"], ["b"]])}, collection="x")
    assert response.status_code == 413 and "RAG_DOCUMENT_MAX_SECONDS" in response.json()["error"]
