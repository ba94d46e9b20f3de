"""`rerank: true` on /rag/search and /rag/query: the configured reranker (here a fake TEI server on
127.0.0.1) reorders max(limit * 4, RAG_RERANK_CANDIDATES) candidates; relevanceScore stays the cosine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from .fake_rerankers import FakeReranker, overlap_score, start_fake_reranker

QUERY = "solar panels efficiency winter"
DOCUMENTS = [
    ("a", "Solar panels lose some efficiency in winter because days are short."),
    ("b", "Solar power is a renewable energy source used around the world."),
    ("c", "Panels of experts discussed winter sports and their efficiency."),
    ("d", "A recipe for bread with flour, water, salt and yeast."),
]


@pytest.fixture
def tei(tmp_path: Any) -> Iterator[FakeReranker]:
    fake, server = start_fake_reranker("tei")
    with override_settings(
        RAG_VECTOR_STORE="embedded",
        RAG_EMBEDDED_PATH=tmp_path / "rerank.sqlite3",
        RAG_ANSWER_MODE="extractive",
        QDRANT_URL="",
        RERANK_PROVIDER="tei",
        RERANK_URL=fake.url,
        RAG_RERANK_CANDIDATES=3,
    ):
        yield fake
    server.shutdown()
    server.server_close()


def _index(post_json) -> None:
    documents = [{"content": text, "source": key, "documentId": key} for key, text in DOCUMENTS]
    response = post_json("/rag/index/batch", {"collection": "rr", "documents": documents})
    assert response.status_code == 201, response.content


def test_search_rerank_reorders_candidates_and_keeps_cosines(post_json, tei):
    _index(post_json)
    plain = post_json("/rag/search", {"query": QUERY, "collection": "rr", "limit": 4, "minScore": 0}).json()
    cosine = {hit["source"]: hit["relevanceScore"] for hit in plain["results"]}
    assert not tei.requests  # no rerank unless asked

    body = {"query": QUERY, "collection": "rr", "limit": 2, "minScore": 0, "rerank": True}
    response = post_json("/rag/search", body)
    assert response.status_code == 201, response.content
    results = response.json()["results"]
    # limit 2 -> a pool of max(2 * 4, 3) = 8: all four documents went to the reranker
    sent = tei.requests[-1].body
    assert sorted(sent["texts"]) == sorted(text for _, text in DOCUMENTS)
    by_overlap = sorted(DOCUMENTS, key=lambda item: -overlap_score(QUERY, item[1]))
    assert [hit["source"] for hit in results] == [key for key, _ in by_overlap[:2]]
    assert all(hit["relevanceScore"] == cosine[hit["source"]] for hit in results)


def test_search_rerank_pool_and_min_score_use_the_cosine(post_json, tei):
    _index(post_json)
    body = {"query": QUERY, "collection": "rr", "limit": 1, "minScore": 0, "mode": "dense", "rerank": True}
    assert post_json("/rag/search", body).status_code == 201
    assert len(tei.requests[-1].body["texts"]) == 4  # max(1 * 4, 3) candidates
    body["minScore"] = 0.99
    response = post_json("/rag/search", body)
    assert response.json()["results"] == []


def test_query_rerank_orders_the_sources(post_json, tei):
    _index(post_json)
    body = {"query": QUERY, "collection": "rr", "contextLimit": 2, "minScore": 0, "rerank": True}
    response = post_json("/rag/query", body)
    assert response.status_code == 201, response.content
    by_overlap = sorted(DOCUMENTS, key=lambda item: -overlap_score(QUERY, item[1]))
    assert [source["source"] for source in response.json()["sources"]] == [key for key, _ in by_overlap[:2]]
    assert tei.requests


def test_rerank_failure_is_the_provider_status(post_json, tei):
    _index(post_json)
    tei.fail_next(500, "model crashed")
    body = {"query": QUERY, "collection": "rr", "minScore": 0, "rerank": True}
    response = post_json("/rag/search", body)
    assert response.status_code == 502
    assert "model crashed" in response.json()["error"]


def test_rerank_must_be_a_boolean(post_json, tei):
    response = post_json("/rag/search", {"query": QUERY, "rerank": "yes"})
    assert response.status_code == 400
