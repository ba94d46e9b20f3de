"""Inputs that used to end in a 500 or a leaked 503 get a clear 4xx in the contract's shape (issue 12):
huge filter integers, deep metadata, wide filters, a collection name with a trailing newline,
texts too long to embed and a chunking step that made millions of chunks."""

from __future__ import annotations

import random
import time

import pytest

from mlservice.core.errors import BadRequest
from services.chunking import SEPARATORS, chunk_text
from services.rag_service import DocumentInput, RAGService, SearchRequest

pytestmark = pytest.mark.usefixtures("embedded_api")


def nested(depth: int) -> str:
    """A JSON object nested ``depth`` levels, written by hand (json.dumps itself stops near 1000)."""
    return '{"a":' * depth + '"x"' + "}" * depth


def post_raw(api, path: str, body: str):
    return api.generic("POST", path, body, content_type="application/json")


def _bad(response, status: int = 400) -> str:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["success"] is False and body["statusCode"] == status
    return "; ".join(body.get("message") or [body["error"]])


@pytest.fixture
def indexed(post_json) -> None:
    response = post_json(
        "/rag/index",
        {"content": "Ships carry containers.", "source": "s", "metadata": {"n": 2**63 - 1, "m": -(2**63), "k": "v"}},
    )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("value", [2**63, 2**64 - 1, [1, 2**63]])
def test_filter_integers_beyond_64_bits_are_400(post_json, indexed, value) -> None:
    # Was 500: sqlite3 raised OverflowError binding the integer.
    message = _bad(post_json("/rag/search", {"query": "ships", "metadataFilter": {"n": value}}))
    assert message == "metadataFilter integers must be between -9223372036854775808 and 9223372036854775807"


def test_filter_integers_at_the_64_bit_bounds_still_match(post_json, indexed) -> None:
    for key, value in (("n", 2**63 - 1), ("m", -(2**63))):
        found = post_json("/rag/search", {"query": "ships", "minScore": 0, "metadataFilter": {key: value}}).json()
        assert [hit["source"] for hit in found["results"]] == ["s"]


def test_filter_with_too_many_keys_is_400_naming_the_limit(post_json, indexed) -> None:
    # Was 503 "Vector store error: Expression tree is too large (maximum depth 1000)".
    wide = {f"k{i}": "v" for i in range(2000)}
    assert _bad(post_json("/rag/search", {"query": "ships", "metadataFilter": wide})) == (
        "metadataFilter may have at most 50 keys"
    )
    fifty = {"k": "v", **{f"absent{i}": "v" for i in range(49)}}
    response = post_json("/rag/search", {"query": "ships", "minScore": 0, "metadataFilter": fifty})
    assert response.status_code == 201 and response.json()["results"] == []


def test_too_many_source_types_is_400(post_json) -> None:
    message = _bad(post_json("/rag/search", {"query": "x", "sourceTypes": [f"t{i}" for i in range(101)]}))
    assert message == "sourceTypes must contain no more than 100 elements"


@pytest.mark.parametrize("depth", [33, 300, 1000])  # deeper than 1024 the JSON parser refuses it (400)
def test_deep_metadata_is_400_on_index_and_in_filters(api, depth: int) -> None:
    # Was 500 (RecursionError in json.dumps at ~1000 levels). From 255 levels the document was
    # stored and then broke every search that returned it (orjson refuses to encode it).
    index = post_raw(api, "/rag/index", '{"content": "x", "source": "s", "metadata": ' + nested(depth) + "}")
    assert _bad(index) == "metadata must not nest objects or arrays more than 32 levels deep"
    search = post_raw(api, "/rag/search", '{"query": "x", "metadataFilter": {"a": ' + nested(depth) + "}}")
    assert _bad(search) == "metadataFilter must not nest objects or arrays more than 32 levels deep"


def test_metadata_32_levels_deep_is_stored_and_returned(api, post_json) -> None:
    response = post_raw(api, "/rag/index", '{"content": "deep", "source": "d", "metadata": ' + nested(31) + "}")
    assert response.status_code == 201, response.json()
    [hit] = post_json("/rag/search", {"query": "deep", "minScore": 0}).json()["results"]
    depth, value = 0, hit["metadata"]
    while isinstance(value, dict) and "a" in value:
        depth, value = depth + 1, value["a"]
    assert (depth, value) == (31, "x")


@pytest.mark.parametrize("name", ["default\n", "kb\n", "kb\r\n"])
def test_collection_name_with_a_trailing_newline_is_400(post_json, api, name: str) -> None:
    # Was accepted: "$" in the name pattern matches before a final newline.
    assert _bad(post_json("/rag/index", {"content": "x", "source": "s", "collection": name})).startswith(
        "collection must be 1-128 characters"
    )
    assert _bad(post_json("/rag/search", {"query": "x", "collection": name})).startswith("collection must be")
    assert api.delete("/rag/collections/kb%0A").status_code == 400
    assert api.get("/rag/collections").json()["collections"] == []


def test_service_checks_filters_and_metadata_for_every_caller(embedded_api: RAGService) -> None:
    embedded_api.index_document(DocumentInput("Ships carry containers.", "s"), "svc")
    with pytest.raises(BadRequest, match="at most 50 keys"):
        embedded_api.search(SearchRequest("ships", "svc", metadata={f"k{i}": "v" for i in range(2000)}))
    with pytest.raises(BadRequest, match="integers must be between"):
        embedded_api.search(SearchRequest("ships", "svc", metadata={"n": 2**63}))
    deep: dict = {}
    for _ in range(40):
        deep = {"a": deep}
    with pytest.raises(BadRequest, match="32 levels"):
        embedded_api.index_document(DocumentInput("x", "s", metadata=deep), "svc")


# --- texts to embed ---------------------------------------------------------------------------
def test_query_longer_than_the_embedding_limit_is_413(post_json, settings) -> None:
    settings.EMBEDDING_MAX_TEXT_CHARS = 1000
    for path in ("/rag/search", "/rag/query"):
        message = _bad(post_json(path, {"query": "q" * 1001}), 413)
        assert message == "query is 1001 characters; the limit is 1000 (EMBEDDING_MAX_TEXT_CHARS)"
    assert post_json("/rag/search", {"query": "q" * 1000}).status_code == 201


def test_whole_document_content_is_held_to_the_embedding_limit(post_json, settings) -> None:
    settings.EMBEDDING_MAX_TEXT_CHARS = 1000
    message = _bad(post_json("/rag/index", {"content": "w " * 501, "source": "s"}), 413)
    assert message.startswith("content is longer than 1000 characters (EMBEDDING_MAX_TEXT_CHARS;")
    # A project document is chunked, so only RAG_MAX_CONTENT_CHARS applies to it.
    project = post_json(
        "/rag/index-project-document",
        {"documentId": "d", "projectId": "p", "filename": "f.md", "content": "w " * 2000, "fileType": "md"},
    )
    assert project.status_code == 201 and project.json()["chunksCreated"] == 5


def test_batch_index_is_held_to_the_request_limit(post_json, settings) -> None:
    settings.EMBEDDING_MAX_REQUEST_CHARS = 1500
    documents = [{"content": "w" * 800, "source": str(i)} for i in range(2)]
    message = _bad(post_json("/rag/index/batch", {"documents": documents}), 413)
    assert message == (
        "documents hold 1600 characters together; the limit per request is 1500 (EMBEDDING_MAX_REQUEST_CHARS)"
    )


def test_a_one_character_chunking_step_is_refused_quickly(post_json) -> None:
    # chunkOverlap = chunkSize - 1 on text without separators steps one character per chunk; the
    # chunker rescanned the text for each (40k characters: 9.6 s) and made 39,000 chunks before
    # the 5,000-chunk limit was checked.
    started = time.perf_counter()
    response = post_json(
        "/rag/index-project-document",
        {
            "documentId": "d",
            "projectId": "p",
            "filename": "f",
            "content": "a" * 40_000,
            "fileType": "txt",
            "chunkSize": 1001,
            "chunkOverlap": 1000,
        },
    )
    elapsed = time.perf_counter() - started
    assert _bad(response, 413).startswith("Document would make more than 5000 chunks, the limit")
    assert elapsed < 3.0, f"{elapsed:.1f} s"


def _reference_chunks(text: str, size: int, overlap: int) -> list[str]:
    """The chunker as it was (searching from the text's start), to show the bounded search agrees."""
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = start + size
        if end < len(text):
            kept = [p for p in (text.rfind(sep, 0, end + len(sep)) for sep in SEPARATORS) if p > start]
            end = max(kept) + 1 if kept else end
        chunk = text[start:end].strip()
        if chunk:
            chunks.append(chunk)
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
    return chunks


def test_bounded_separator_search_cuts_exactly_as_before() -> None:
    rng = random.Random(12)
    alphabet = ["a", "b", " ", ". ", "! ", "? ", "\n", "\n\n", "xyz"]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 600)))
        size = rng.randint(1, 120)
        overlap = rng.randint(0, size - 1)
        assert chunk_text(text, size, overlap) == _reference_chunks(text, size, overlap)
    assert len(chunk_text("a" * 5000, 101, 100, max_chunks=7)) == 7
