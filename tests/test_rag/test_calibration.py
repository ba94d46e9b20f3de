"""Calibrated relevance scores (services/rag_calibration.py) and abstention in /rag/query, with the
real local embedding model on a small, realistic collection (an IT and HR handbook) in every store.
The LLM, where one is configured, is the fake OpenAI server (real HTTP): abstention must not call it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from django.test import override_settings

from services import rag_calibration
from services.rag_service import NO_ANSWER, DocumentInput, RAGService, SearchRequest

HANDBOOK = [
    (
        "Employees can reset their password from the self-service portal at any time. New passwords "
        "need at least twelve characters and expire after ninety days.",
        "passwords.md",
    ),
    (
        "Connect the VPN client before opening internal dashboards from home. Install it from the "
        "software center and sign in with your company account.",
        "vpn.md",
    ),
    (
        "Laptops are replaced every four years. Report a broken or stolen laptop to the IT help desk "
        "within 24 hours so it can be locked remotely.",
        "laptops.md",
    ),
    (
        "Expense reports are submitted through the finance portal by the fifth working day of the "
        "following month, with scanned receipts attached.",
        "expenses.md",
    ),
    (
        "Annual leave requests go to your line manager at least two weeks in advance. Full-time "
        "employees have 25 days of paid leave per year.",
        "leave.md",
    ),
    (
        "The office is open from 7am to 8pm on weekdays. Visitors sign in at reception and wear a badge at all times.",
        "office.md",
    ),
    ("Backups of the shared drives run every night at 2am and are kept for 30 days.", "backups.md"),
    (
        "Every floor has a printer on the Office-Print queue; release your pages at the printer with your badge.",
        "printing.md",
    ),
]
RELEVANT = [
    ("How do I change my password?", "passwords.md"),
    ("When is the deadline for submitting expense reports?", "expenses.md"),
    ("My laptop was stolen, what should I do?", "laptops.md"),
    ("How long are backups kept?", "backups.md"),
    ("How do I connect to the VPN from home?", "vpn.md"),
    ("What are the office opening hours?", "office.md"),
]
# Known limit (services/rag_calibration.py): "How many vacation days do I get each year?" finds
# leave.md first but scores 0.25, as the background's holiday sentences reach cosine 0.36 against
# its 0.40: an everyday topic the background covers is held to a higher bar.
OFF_TOPIC = [
    "Who won the football world cup in 1998?",
    "What is a good recipe for banana bread?",
    "How do volcanoes form?",
    "The film was a delight from start to finish.",
]


def _index(service: RAGService, collection: str = "handbook") -> None:
    service.index_documents(
        [DocumentInput(content=content, source=source, document_id=source) for content, source in HANDBOOK],
        collection,
    )


def test_calibration_is_a_probability_monotone_in_the_cosine() -> None:
    rng = np.random.default_rng(0)
    background = rng.normal(size=(200, 384)).astype(np.float32)
    background /= np.linalg.norm(background, axis=1, keepdims=True)
    query = rng.normal(size=384)
    calibration = rag_calibration.calibrate(query, background, passages=5000)
    assert calibration.passages == 5000
    scores = [calibration.score(c) for c in np.linspace(-1, 1, 201)]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores) and scores[0] == 0.0 and scores[-1] > 0.999
    # score = exp(-N * p): at the cosine where N * p = ln 2 the score is exactly one half.
    half = calibration.threshold + calibration.scale * math.log(calibration.tail * calibration.passages / math.log(2))
    assert calibration.score(half) == pytest.approx(0.5)
    # A degenerate background (every cosine equal) keeps a finite, positive scale.
    flat = rag_calibration.calibrate(np.ones(384), np.tile(background[:1], (50, 1)), passages=3)
    assert flat.scale > 0 and 0.0 <= flat.score(0.0) <= 1.0
    # N is at least the background's size: a tiny collection is no excuse for a chance match.
    assert flat.passages == 50
    # The same cosine scores lower in a larger collection (more passages, more chance matches).
    larger = rag_calibration.calibrate(query, background, passages=500_000)
    assert larger.score(half) < 0.5


def test_packaged_background_is_generic_text() -> None:
    sentences = rag_calibration.background_sentences()
    assert len(sentences) >= 200 and len(set(sentences)) == len(sentences)
    assert not any(line.startswith("#") for line in sentences)


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_relevant_queries_clear_the_default_threshold_and_off_topic_ones_do_not(rag: RAGService, mode: str) -> None:
    _index(rag)
    for query, source in RELEVANT:
        hits = rag.search(SearchRequest(query=query, collection="handbook", mode=mode))  # minScore 0.5
        assert hits and hits[0].source == source, (query, [(h.source, h.score) for h in hits])
        assert all(0.5 <= (hit.score or 0) <= 1 for hit in hits)
    for query in OFF_TOPIC:
        assert rag.search(SearchRequest(query=query, collection="handbook", mode=mode)) == [], query
        loose = rag.search(SearchRequest(query=query, collection="handbook", mode=mode, min_score=0, limit=10))
        assert all(0 <= (hit.score or 0) < 0.5 for hit in loose), [(h.source, h.cosine, h.score) for h in loose]


def test_a_hit_scores_the_same_in_every_mode(rag: RAGService) -> None:
    _index(rag)
    scores: dict[str, dict[str, float]] = {}
    for mode in ("dense", "lexical", "hybrid"):
        hits = rag.search(SearchRequest(query="reset password portal", collection="handbook", mode=mode, min_score=0))
        scores[mode] = {hit.source: hit.score for hit in hits if hit.score is not None}
    shared = set(scores["dense"]) & set(scores["lexical"]) & set(scores["hybrid"])
    assert "passwords.md" in shared
    for source in shared:
        assert scores["dense"][source] == pytest.approx(scores["lexical"][source], abs=1e-5)
        assert scores["dense"][source] == pytest.approx(scores["hybrid"][source], abs=1e-5)


def test_search_api_shows_the_calibrated_score(post_json, embedded_api) -> None:
    for content, source in HANDBOOK:
        post_json("/rag/index", {"content": content, "source": source, "collection": "handbook"})
    body = post_json("/rag/search", {"query": "How do I change my password?", "collection": "handbook"}).json()
    assert body["totalFound"] >= 1 and body["results"][0]["source"] == "passwords.md"
    assert set(body["results"][0]) == {"content", "source", "sourceType", "relevanceScore", "metadata"}
    assert all(0.5 <= result["relevanceScore"] <= 1 for result in body["results"])
    # The raw cosine of this pair is well under 1; the calibrated score says "clearly relevant".
    [hit] = embedded_api.search(SearchRequest(query="How do I change my password?", collection="handbook", limit=1))
    assert hit.cosine < 0.9 and body["results"][0]["relevanceScore"] == pytest.approx(hit.score, abs=1e-6)
    off = post_json("/rag/search", {"query": "How do volcanoes form?", "collection": "handbook"}).json()
    assert off["results"] == [] and off["totalFound"] == 0


@pytest.fixture
def llm_api(embedded_api, openai_fake):
    with override_settings(RAG_ANSWER_MODE="auto", EMBEDDING_MODEL="all-MiniLM-L6-v2"):
        for content, source in HANDBOOK:
            embedded_api.index_document(DocumentInput(content=content, source=source), "handbook")
        openai_fake.reply = lambda body: "Reset it from the self-service portal [1]."
        yield openai_fake


def test_query_abstains_without_calling_the_llm_when_nothing_is_relevant(post_json, llm_api) -> None:
    response = post_json("/rag/query", {"query": "How do volcanoes form?", "collection": "handbook"})
    body = response.json()
    assert response.status_code == 201 and body["success"] is True
    assert body["answer"] == NO_ANSWER and "cannot be answered" in body["answer"]
    assert body["sources"] == [] and body["citations"] == []
    assert body["answerType"] == "extractive" and body["model"] == "extractive" and body["tokensUsed"] == 0
    assert llm_api.requests == []


def test_query_abstains_on_weak_evidence_but_lists_what_it_found(post_json, llm_api) -> None:
    # A threshold below 0.5 lets weak chunks through as sources; they do not support an answer.
    body = post_json(
        "/rag/query", {"query": "How do volcanoes form?", "collection": "handbook", "minScore": 1e-300}
    ).json()
    assert body["answer"] == NO_ANSWER and body["citations"] == [] and llm_api.requests == []
    assert all(source["relevanceScore"] < 0.5 for source in body["sources"])


def test_query_answers_with_the_llm_when_the_evidence_is_relevant(post_json, llm_api) -> None:
    body = post_json("/rag/query", {"query": "How do I change my password?", "collection": "handbook"}).json()
    assert body["answerType"] == "generative" and body["answer"] == "Reset it from the self-service portal [1]."
    assert body["sources"][0]["source"] == "passwords.md" and body["citations"][0]["source"] == "passwords.md"
    assert len(llm_api.requests) == 1


def test_streamed_query_abstains_too(embedded_api, llm_api) -> None:
    events = list(embedded_api.stream_answer(query="Who won the football world cup in 1998?", collection="handbook"))
    assert [name for name, _ in events] == ["sources", "delta", "done"]
    assert events[0][1]["sources"] == [] and events[1][1]["content"] == NO_ANSWER
    done = events[2][1]
    assert done["answer"] == NO_ANSWER and done["answerType"] == "extractive" and done["tokensUsed"] == 0
    assert llm_api.requests == []
