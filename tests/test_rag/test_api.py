"""The HTTP endpoints (contract 4.3) on the embedded store, with the real embedding model."""

from __future__ import annotations

import socket
import sqlite3

import pytest
from django.test import override_settings

from services import embedding_service
from services.rag_service import RAGService, chunk_uuid
from services.vectorstores.base import SearchFilter

pytestmark = pytest.mark.usefixtures("embedded_api")

DOCS = [
    ("The Eiffel Tower in Paris was completed in 1889 for the World's Fair.", "eiffel.txt", {"lang": "en"}),
    ("Mitochondria produce most of the chemical energy that powers a cell.", "cell.txt", {"lang": "en"}),
    ("Der Rhein ist einer der längsten Flüsse Europas.", "rhein.txt", {"lang": "de"}),
]


def _index_all(post_json, collection: str = "default") -> list[str]:
    ids = []
    for content, source, metadata in DOCS:
        response = post_json(
            "/rag/index", {"content": content, "source": source, "metadata": metadata, "collection": collection}
        )
        assert response.status_code == 201, response.json()
        ids.append(response.json()["documentId"])
    return ids


def test_index_then_search_returns_contract_shape(post_json) -> None:
    response = post_json(
        "/rag/index", {"content": DOCS[0][0], "source": "eiffel.txt", "sourceType": "web", "metadata": {"lang": "en"}}
    )
    body = response.json()
    assert response.status_code == 201
    assert body["success"] is True and body["message"] == "Document indexed successfully"
    assert body["source"] == "eiffel.txt" and body["collection"] == "default"
    document_id = body["documentId"]

    found = post_json("/api/v1/rag/search", {"query": "When was the Eiffel Tower built?"}).json()
    assert found["success"] is True and found["query"] == "When was the Eiffel Tower built?"
    assert found["totalFound"] == 1 and found["mode"] == "hybrid"
    result = found["results"][0]
    assert set(result) == {"content", "source", "sourceType", "relevanceScore", "metadata"}
    assert result["content"] == DOCS[0][0] and result["source"] == "eiffel.txt" and result["sourceType"] == "web"
    assert result["metadata"] == {"lang": "en", "document_id": document_id}
    assert 0.5 <= result["relevanceScore"] <= 1


def test_search_ranks_and_filters(post_json) -> None:
    _index_all(post_json)
    body = post_json("/rag/search", {"query": "energy inside cells", "minScore": 0, "limit": 3}).json()
    assert body["results"][0]["source"] == "cell.txt"
    assert len(body["results"]) == 3
    german = post_json("/rag/search", {"query": "river", "min_score": 0, "metadataFilter": {"lang": "de"}}).json()
    assert [r["source"] for r in german["results"]] == ["rhein.txt"]
    none = post_json("/rag/search", {"query": "river", "minScore": 0, "sourceTypes": ["project_document"]}).json()
    assert none["results"] == [] and none["totalFound"] == 0
    lexical = post_json("/rag/search", {"query": "Mitochondria", "mode": "lexical", "minScore": 0, "limit": 1}).json()
    assert [r["source"] for r in lexical["results"]] == ["cell.txt"]


def test_search_on_missing_collection_is_empty(post_json) -> None:
    body = post_json("/rag/search", {"query": "x", "collection": "never_made"}).json()
    assert body == {"success": True, "results": [], "query": "x", "totalFound": 0, "mode": "hybrid"}


def test_index_project_document_with_gateway_snake_case(post_json) -> None:
    content = "Sprint planning notes. " * 120
    body = {
        "document_id": "doc-42",
        "project_id": "proj-7",
        "filename": "notes.md",
        "content": content,
        "file_type": "md",
        "chunk_size": 1000,
        "chunk_overlap": 200,
    }
    response = post_json("/rag/index-project-document", body)
    assert response.status_code == 201
    assert response.json() == {
        "success": True,
        "message": "Project document indexed successfully",
        "documentId": "doc-42",
        "chunksCreated": 4,
        "collection": "project_proj-7",
    }
    hits = post_json(
        "/rag/search", {"query": "sprint planning", "collection": "project_proj-7", "limit": 100, "minScore": 0}
    ).json()
    assert hits["totalFound"] == 4
    first = next(r for r in hits["results"] if r["metadata"]["chunk_index"] == 0)
    assert first["source"] == "notes.md (chunk 1/4)" and first["sourceType"] == "project_document"
    assert first["metadata"]["chunk_id"] == "doc-42_chunk_0"


def test_reindexing_a_document_id_replaces_it(post_json) -> None:
    first = post_json(
        "/rag/index", {"content": "Version one of the handbook.", "source": "h", "documentId": "handbook"}
    )
    again = post_json(
        "/rag/index", {"content": "Version two of the handbook.", "source": "h", "documentId": "handbook"}
    )
    assert first.json()["documentId"] == again.json()["documentId"] == "handbook"
    hits = post_json("/rag/search", {"query": "handbook", "minScore": 0}).json()["results"]
    assert [h["content"] for h in hits] == ["Version two of the handbook."]


def test_batch_index_and_delete_document(post_json, api) -> None:
    response = post_json(
        "/rag/index/batch",
        {"collection": "kb", "documents": [{"content": c, "source": s, "documentId": s} for c, s, _ in DOCS]},
    )
    assert response.status_code == 201 and response.json()["documentIds"] == ["eiffel.txt", "cell.txt", "rhein.txt"]
    deleted = api.delete("/rag/collections/kb/documents/cell.txt").json()
    assert deleted["chunksDeleted"] == 1
    also = api.delete("/rag/documents/rhein.txt?collection=kb").json()
    assert also["chunksDeleted"] == 1
    assert api.get("/rag/stats").json()["stats"]["collections"]["kb"] == {"vectorsCount": 1, "pointsCount": 1}


def test_collections_stats_and_delete_both_paths(post_json, api) -> None:
    _index_all(post_json, "alpha")
    post_json("/rag/index", {"content": "beta text", "source": "b", "collection": "beta"})
    assert api.get("/rag/collections").json() == {"success": True, "collections": ["alpha", "beta"]}
    stats = api.get("/api/v1/rag/stats").json()["stats"]
    assert stats == {
        "totalCollections": 2,
        "collections": {"alpha": {"vectorsCount": 3, "pointsCount": 3}, "beta": {"vectorsCount": 1, "pointsCount": 1}},
    }
    assert api.delete("/rag/collections/alpha").json() == {"success": True, "message": "Collection 'alpha' deleted"}
    assert api.delete("/api/v1/rag/collection/beta").json()["message"] == "Collection 'beta' deleted"
    assert api.delete("/rag/collections/never").status_code == 200  # idempotent, like Qdrant
    assert api.get("/rag/collections").json()["collections"] == []
    assert api.delete("/rag/collections/").status_code == 404


def test_query_answers_extractively_with_citations(post_json) -> None:
    _index_all(post_json)
    body = post_json("/rag/query", {"query": "When was the Eiffel Tower completed?", "contextLimit": 2}).json()
    assert body["success"] is True and body["answerType"] == "extractive" and body["model"] == "extractive"
    assert "1889" in body["answer"] and "[1]" in body["answer"]
    assert body["sources"][0]["source"] == "eiffel.txt"
    assert body["citations"][0]["index"] == 1 and body["citations"][0]["source"] == "eiffel.txt"
    assert body["tokensUsed"] == 0


def test_query_on_empty_collection_says_so(post_json) -> None:
    body = post_json("/rag/query", {"query": "anything?", "collection": "empty"}).json()
    assert body["sources"] == [] and body["citations"] == [] and "No relevant context" in body["answer"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/rag/index", {"source": "s"}, "content must be a string"),
        ("/rag/index", {"content": "   ", "source": "s"}, "content should not be empty"),
        ("/rag/index", {"content": "x", "source": "s", "metadata": []}, "metadata must be an object"),
        ("/rag/index", {"content": "x", "source": "s", "extra": 1}, "property extra should not exist"),
        ("/rag/search", {"query": "x", "limit": 101}, "limit must not be greater than 100"),
        (
            "/rag/search",
            {"query": "x", "minScore": "0.5"},
            "minScore must be a number conforming to the specified constraints",
        ),
        (
            "/rag/search",
            {"query": "x", "mode": "magic"},
            "mode must be one of the following values: hybrid, dense, lexical",
        ),
        ("/rag/query", {"query": "x", "contextLimit": 21}, "contextLimit must not be greater than 20"),
        (
            "/rag/index-project-document",
            {
                "documentId": "d",
                "projectId": "p",
                "filename": "f",
                "content": "c",
                "fileType": "md",
                "chunkSize": 100,
                "chunkOverlap": 100,
            },
            "chunkOverlap must be smaller than chunkSize",
        ),
        ("/rag/index-project-document", {"documentId": "d"}, "projectId must be a string"),
        ("/rag/index/batch", {"documents": []}, "documents"),
        ("/rag/search", {"query": "x", "metadataFilter": {"lang": {}}}, "metadataFilter values must be strings"),
        ("/rag/search", {"query": "x", "metadataFilter": {"lang": []}}, "metadataFilter values must be strings"),
        ("/rag/search", {"query": "x", "metadataFilter": {"n": 1.5}}, "metadataFilter values must be strings"),
        ("/rag/search", {"query": "x", "metadataFilter": {"n": [1, None]}}, "metadataFilter values must be strings"),
        ("/rag/search", {"query": "x", "metadataFilter": {"n": list(range(101))}}, "at most 100 values"),
    ],
)
def test_bad_bodies_get_contract_400(post_json, path: str, body: dict, message: str) -> None:
    response = post_json(path, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["success"] is False and payload["error"] == "Bad Request" and payload["statusCode"] == 400
    assert any(message in m for m in payload["message"]), payload["message"]


@pytest.mark.parametrize("name", ["bad name", "-lead", "x" * 129, "semi;colon"])
def test_bad_collection_names_get_400(post_json, api, name: str) -> None:
    response = post_json("/rag/search", {"query": "x", "collection": name})
    assert response.status_code == 400 and response.json()["error"].startswith("collection must be")
    assert post_json("/rag/index", {"content": "x", "source": "s", "collection": name}).status_code == 400


def test_repeated_document_id_in_a_batch_is_400_and_writes_nothing(post_json) -> None:
    documents = [{"content": "a", "source": "s", "documentId": "d"}, {"content": "b", "source": "t", "documentId": "d"}]
    response = post_json("/rag/index/batch", {"documents": documents, "collection": "dupes"})
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": "documentId 'd' appears more than once", "statusCode": 400}
    found = post_json("/rag/search", {"query": "a", "collection": "dupes", "minScore": 0}).json()
    assert found["results"] == []


def test_reserved_metadata_and_too_large_content(post_json) -> None:
    reserved = post_json("/rag/index", {"content": "x", "source": "s", "metadata": {"source": "override"}})
    assert reserved.status_code == 400 and "reserved" in reserved.json()["error"]
    with override_settings(RAG_MAX_CONTENT_CHARS=1000):
        big = post_json("/rag/index", {"content": "y" * 1001, "source": "s"})
    assert big.status_code == 413 and big.json()["statusCode"] == 413


def test_store_failure_halfway_leaves_nothing_partial(post_json, embedded_api: RAGService) -> None:
    """A real failure inside the write transaction (a SQLite trigger aborts the 3rd insert):
    503, and neither the new documents nor a replacement of an existing one are half-applied."""
    post_json("/rag/index", {"content": "Original text of the kept document.", "source": "keep", "documentId": "keep"})
    with sqlite3.connect(embedded_api.store.path) as conn:
        conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON rag_chunks WHEN NEW.content LIKE '%POISON%' "
            "BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END"
        )
    docs = [
        {"content": "New document one.", "source": "n1", "documentId": "n1"},
        {"content": "Replacement of the kept document.", "source": "keep", "documentId": "keep"},
        {"content": "POISON makes the store fail here.", "source": "n3", "documentId": "n3"},
    ]
    response = post_json("/rag/index/batch", {"documents": docs})
    assert response.status_code == 503 and "simulated disk failure" in response.json()["error"]
    hits = post_json("/rag/search", {"query": "document", "minScore": 0, "limit": 10}).json()["results"]
    assert [h["content"] for h in hits] == ["Original text of the kept document."]


def test_embedding_failure_halfway_writes_nothing(post_json, monkeypatch) -> None:
    post_json("/rag/index", {"content": "Already there.", "source": "a"})
    service = embedding_service.get_instance()
    real_embed = service.embed

    def fail_on_large_batches(texts, model=None):  # the chunk batch fails, queries still work
        if len(texts) > 1:
            raise RuntimeError("model crashed on batch")
        return real_embed(texts, model)

    monkeypatch.setattr(service, "embed", fail_on_large_batches)
    body = {
        "documentId": "big",
        "projectId": "p",
        "filename": "f.md",
        "content": "Sentence here. " * 200,
        "fileType": "md",
    }
    response = post_json("/rag/index-project-document", body)
    assert response.status_code == 503 and "model crashed" in response.json()["error"]
    assert (
        post_json("/rag/search", {"query": "Sentence", "collection": "project_p", "minScore": 0}).json()["results"]
        == []
    )


def test_chunk_ids_are_uuid5_of_the_readable_id(embedded_api: RAGService, post_json) -> None:
    post_json(
        "/rag/index-project-document",
        {"documentId": "d1", "projectId": "p", "filename": "f", "content": "Hello there.", "fileType": "txt"},
    )
    hits = post_json("/rag/search", {"query": "hello", "collection": "project_p", "minScore": 0}).json()["results"]
    assert hits[0]["metadata"]["chunk_id"] == "d1_chunk_0"
    vector = embedding_service.get_instance().embed_one("hello").vectors[0]
    stored = embedded_api.store.dense_search("synthstack_project_p", vector, 1, SearchFilter())
    assert stored[0].id == chunk_uuid("d1", 0)


def test_http_round_trip_on_the_configured_backend(post_json, api, tmp_path) -> None:
    """Default settings: embedded under ``make test``, pgvector under ``make test-services``."""
    from django.conf import settings

    from services.vectorstores import configured_backend

    with override_settings(RAG_VECTOR_STORE="auto", RAG_EMBEDDED_PATH=tmp_path / "auto.sqlite3", QDRANT_URL=""):
        assert configured_backend() == ("pgvector" if settings.IS_POSTGRES else "embedded")
        body = {
            "documentId": "gw-1",
            "projectId": "gw",
            "filename": "spec.md",
            "content": "Billing runs nightly. " * 80,
            "fileType": "md",
        }
        assert post_json("/rag/index-project-document", body).json()["chunksCreated"] == 2
        found = post_json(
            "/rag/search", {"query": "Billing runs nightly.", "collection": "project_gw", "limit": 100}
        ).json()
        assert found["totalFound"] == 2 and {r["metadata"]["document_id"] for r in found["results"]} == {"gw-1"}
        assert api.delete("/rag/documents/gw-1?collection=project_gw").json()["chunksDeleted"] == 2
        assert api.delete("/rag/collections/project_gw").status_code == 200


def test_health_reports_rag_and_the_vector_store(api, tmp_path) -> None:
    health = api.get("/health").json()
    assert health["services"]["rag"] is True
    assert health["config"]["vectorStore"] == "embedded"
    ready = api.get("/health/ready").json()
    assert ready["checks"]["vector_store"]["ok"] is True
    # A store that cannot be opened makes the service not ready (503), with the reason.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with override_settings(RAG_EMBEDDED_PATH=blocker / "v.sqlite3"):
        response = api.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["vector_store"]["ok"] is False


def test_backend_outage_is_503_not_an_empty_result(post_json, api) -> None:
    """Contract 8.22: TS hid a Qdrant outage as an empty search; we surface it."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with override_settings(RAG_VECTOR_STORE="qdrant", QDRANT_URL=f"http://127.0.0.1:{port}"):
        search = post_json("/rag/search", {"query": "anything"})
        index = post_json("/rag/index", {"content": "text", "source": "s"})
        collections = api.get("/rag/collections")
    for response in (search, index, collections):
        assert response.status_code == 503
        assert response.json()["success"] is False and "Vector store error" in response.json()["error"]


def test_blank_project_document_makes_zero_chunks_and_empties_the_document(post_json) -> None:
    body = {
        "documentId": "d",
        "projectId": "p",
        "filename": "f.md",
        "content": "Some real text here.",
        "fileType": "md",
    }
    assert post_json("/rag/index-project-document", body).json()["chunksCreated"] == 1
    emptied = post_json("/rag/index-project-document", {**body, "content": "   "})
    assert emptied.status_code == 201 and emptied.json()["chunksCreated"] == 0
    assert post_json("/rag/search", {"query": "text", "collection": "project_p", "minScore": 0}).json()["results"] == []
