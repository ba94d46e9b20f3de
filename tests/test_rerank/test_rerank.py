"""POST /rerank and /v1/rerank: both dialects, limits, errors, and every HTTP provider against a
real fake server on 127.0.0.1 speaking that provider's API."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest

from services import rerank_service
from services.rerank.local import LocalReranker

from .fake_rerankers import FakeReranker, overlap_score, start_fake_reranker

QUERY = "vitamin D deficiency bone fractures"
DOCUMENTS = [
    "The stock market closed higher on Tuesday after strong earnings reports.",
    "Vitamin D deficiency is associated with a higher risk of bone fractures in older adults.",
    "Bone density scans measure calcium in the skeleton.",
]


@pytest.fixture(scope="module", params=["tei", "infinity", "cohere", "jina", "voyage"])
def fake_server(request) -> Iterator[FakeReranker]:
    fake, server = start_fake_reranker(request.param)
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def provider(fake_server: FakeReranker, settings) -> FakeReranker:
    fake_server.requests.clear()
    fake_server.script.clear()
    fake_server.max_batch = 1000
    settings.RERANK_PROVIDER = fake_server.api
    settings.RERANK_URL = fake_server.url
    settings.PROVIDER_TIMEOUT_SECONDS = 1.0
    if fake_server.api in ("cohere", "jina", "voyage"):
        setattr(settings, f"{fake_server.api.upper()}_API_KEY", "test-key")
    return fake_server


# --- the local method --------------------------------------------------------------------------
def test_local_rerank_cohere_format_puts_the_relevant_document_first(post_json, settings):
    settings.RERANK_PROVIDER = "local"
    response = post_json("/rerank", {"model": "rerank-v3.5", "query": QUERY, "documents": DOCUMENTS, "top_n": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "local-minilm-bm25"
    assert [result["index"] for result in body["results"]] == [1, 2]
    scores = [result["relevance_score"] for result in body["results"]]
    assert 0 < scores[1] < scores[0] <= 1
    assert "document" not in body["results"][0]
    assert body["usage"] == {"total_tokens": 0}
    assert body["meta"]["api_version"] == {"version": "2"}


def test_local_rerank_accepts_text_objects_and_returns_documents(post_json, settings):
    settings.RERANK_PROVIDER = "local"
    documents = [{"text": text} for text in DOCUMENTS]
    response = post_json("/v1/rerank", {"query": QUERY, "documents": documents, "return_documents": True})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert len(results) == 3
    assert results[0] == {"index": 1, "relevance_score": results[0]["relevance_score"], "document": documents[1]}


def test_tei_format_answers_a_bare_list(post_json, settings):
    settings.RERANK_PROVIDER = "local"
    response = post_json("/rerank", {"query": QUERY, "texts": DOCUMENTS, "return_text": True, "raw_scores": False})
    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body, list)
    assert body[0]["index"] == 1
    assert body[0]["text"] == DOCUMENTS[1]
    assert set(body[0]) == {"index", "score", "text"}
    assert body[0]["score"] >= body[1]["score"] >= body[2]["score"]


def test_local_scores_are_in_unit_range_and_blank_documents_score_zero():
    scores = LocalReranker().rerank(QUERY, [DOCUMENTS[1], "   ", DOCUMENTS[0]]).scores
    assert scores[1] == 0.0
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert scores[0] > scores[2]


# --- validation and limits -------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"query": QUERY}, "either documents"),
        ({"query": QUERY, "documents": DOCUMENTS, "texts": DOCUMENTS}, "either documents"),
        ({"query": QUERY, "documents": [1, 2]}, "documents must be an array of strings"),
        ({"query": QUERY, "documents": []}, "documents should not be empty"),
        ({"query": "  ", "documents": DOCUMENTS}, "query should not be empty"),
        ({"query": QUERY, "documents": DOCUMENTS, "top_n": 0}, "top_n"),
        ({"documents": DOCUMENTS}, "query"),
    ],
)
def test_bad_input_is_400_in_the_contract_shape(post_json, settings, body, fragment):
    settings.RERANK_PROVIDER = "local"
    response = post_json("/rerank", body)
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["success"] is False and payload["statusCode"] == 400
    assert fragment in str(payload.get("message", payload["error"])), payload


def test_bad_input_at_v1_is_the_openai_envelope(post_json, settings):
    settings.RERANK_PROVIDER = "local"
    response = post_json("/v1/rerank", {"query": QUERY, "documents": "not a list"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "documents" in error["message"] and error["type"] == "invalid_request_error"


def test_limits_come_from_settings(post_json, settings):
    settings.RERANK_PROVIDER = "local"
    settings.RERANK_MAX_DOCUMENTS = 2
    response = post_json("/rerank", {"query": QUERY, "documents": DOCUMENTS})
    assert response.status_code == 400
    assert "RERANK_MAX_DOCUMENTS" in response.json()["error"]
    settings.RERANK_MAX_DOCUMENTS = 10
    settings.RERANK_MAX_DOCUMENT_CHARS = 100
    response = post_json("/rerank", {"query": QUERY, "documents": ["x" * 101]})
    assert response.status_code == 413
    assert "documents[0]" in response.json()["error"]
    settings.RERANK_MAX_DOCUMENT_CHARS = 20_000
    settings.RERANK_MAX_TOTAL_CHARS = 1000
    response = post_json("/rerank", {"query": QUERY, "documents": ["y" * 600, "z" * 600]})
    assert response.status_code == 413
    assert "RERANK_MAX_TOTAL_CHARS" in response.json()["error"]


# --- HTTP providers against a fake server ----------------------------------------------------
def test_provider_answers_in_our_format_with_its_scores(post_json, provider):
    response = post_json("/v1/rerank", {"query": QUERY, "documents": DOCUMENTS, "top_n": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    expected = sorted(range(3), key=lambda i: -overlap_score(QUERY, DOCUMENTS[i]))[:2]
    assert [result["index"] for result in body["results"]] == expected
    assert body["results"][0]["relevance_score"] == overlap_score(QUERY, DOCUMENTS[expected[0]])
    assert body["meta"]["provider"] == provider.api
    sent = provider.requests[-1]
    assert sent.body["query"] == QUERY
    assert sent.body["texts" if provider.api == "tei" else "documents"] == DOCUMENTS
    if provider.api in ("cohere", "jina", "voyage"):
        assert sent.headers["authorization"] == "Bearer test-key"
        assert sent.body["model"] == {"cohere": "rerank-v3.5", "jina": "jina-reranker-v2-base-multilingual",
                                      "voyage": "rerank-2"}[provider.api]  # fmt: skip
    if provider.api in ("jina", "voyage", "infinity"):
        assert body["usage"]["total_tokens"] > 0


def test_the_client_model_is_passed_on(post_json, provider):
    if provider.api == "tei":
        pytest.skip("TEI takes no model name")
    response = post_json("/rerank", {"model": "my-model", "query": QUERY, "documents": DOCUMENTS})
    assert response.status_code == 200, response.content
    assert provider.requests[-1].body["model"] == "my-model"


def test_self_hosted_servers_get_batches(post_json, provider, settings):
    if provider.api not in ("tei", "infinity"):
        pytest.skip("hosted APIs take 1,000 documents a call")
    provider.max_batch = 2
    settings.RERANK_BATCH_SIZE = 2
    response = post_json("/rerank", {"query": QUERY, "texts": DOCUMENTS})
    assert response.status_code == 200, response.content
    assert [len(r.body.get("texts") or r.body.get("documents")) for r in provider.requests] == [2, 1]
    assert response.json()[0]["index"] == 1


@pytest.mark.parametrize(
    "upstream, status",
    [(422, 400), (401, 503), (429, 503), (500, 502), ("hang", 502)],
)
def test_upstream_errors_follow_the_provider_policy(post_json, provider, upstream, status):
    provider.fail_next(upstream, "upstream says no")
    response = post_json("/rerank", {"query": QUERY, "documents": DOCUMENTS})
    assert response.status_code == status, response.content
    error = response.json()["error"]
    if upstream != "hang":
        assert "upstream says no" in error
    else:
        assert "did not answer in time" in error


def test_unreachable_provider_is_503(post_json, settings):
    with socket.socket() as sock:  # a port nobody listens on: bind, read it, close
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.RERANK_PROVIDER = "tei"
    settings.RERANK_URL = f"http://127.0.0.1:{port}"
    response = post_json("/rerank", {"query": QUERY, "texts": DOCUMENTS})
    assert response.status_code == 503
    assert "RERANK_URL" in response.json()["error"]


def test_tei_without_url_is_not_configured(post_json, settings):
    settings.RERANK_PROVIDER = "tei"
    settings.RERANK_URL = ""
    response = post_json("/rerank", {"query": QUERY, "texts": DOCUMENTS})
    assert response.status_code == 503
    assert "RERANK_URL" in response.json()["error"]


def test_auto_picks_the_configured_provider(settings):
    settings.RERANK_PROVIDER = "auto"
    settings.RERANK_URL = ""
    settings.COHERE_API_KEY = settings.JINA_API_KEY = settings.VOYAGE_API_KEY = ""
    assert rerank_service.configured_provider() == "local"
    settings.RERANK_URL = "http://127.0.0.1:1"
    assert rerank_service.configured_provider() == "tei"
    settings.VOYAGE_API_KEY = "v"
    assert rerank_service.configured_provider() == "voyage"
    settings.COHERE_API_KEY = "c"
    assert rerank_service.configured_provider() == "cohere"


# --- a plain HTTP client against a real server -----------------------------------------------
def test_plain_http_client_against_a_live_server(live_server, settings):
    settings.RERANK_PROVIDER = "local"
    with httpx.Client(base_url=live_server.url, timeout=60, trust_env=False) as client:
        cohere = client.post("/v1/rerank", json={"model": "rerank-v3.5", "query": QUERY, "documents": DOCUMENTS,
                                                 "top_n": 1, "return_documents": True})  # fmt: skip
        assert cohere.status_code == 200, cohere.text
        assert cohere.headers["content-type"].startswith("application/json")
        assert cohere.json()["results"] == [
            {"index": 1, "relevance_score": cohere.json()["results"][0]["relevance_score"],
             "document": {"text": DOCUMENTS[1]}}
        ]  # fmt: skip
        tei = client.post("/rerank", json={"query": QUERY, "texts": DOCUMENTS})
        assert tei.status_code == 200 and tei.json()[0]["index"] == 1
        error = client.post("/v1/rerank", json={"query": QUERY, "documents": []})
        assert error.status_code == 400
        assert error.json()["error"]["message"] == "documents should not be empty"
