"""The local analysis methods on real text, through the HTTP API (no LLM configured)."""

from __future__ import annotations

import pytest

from services.analysis.classify import describe
from services.analysis.keywords import extract_keywords
from services.analysis.text import split_sentences

REVIEW_GOOD = "An absolutely wonderful film: moving, funny and beautifully acted. I loved every minute."
REVIEW_BAD = "A tedious, badly written mess. The jokes fall flat and I was bored from start to finish."
NEUTRAL = "The meeting is scheduled for Tuesday at 10 a.m. in room 4."

ARTICLE = (
    "The city council approved a new public transport plan on Monday after a long debate. "
    "The plan adds twelve electric bus lines and extends the tram network to the northern suburbs. "
    "Council members said the electric buses will cut emissions in the city centre by a third. "
    "Construction of the tram extension is expected to start next spring. "
    "Opposition members criticised the cost of the plan, which they put at 400 million euros. "
    "The mayor replied that the transport plan would pay for itself through lower fuel costs. "
    "Residents of the northern suburbs welcomed the tram extension. "
    "Local shops near the planned tram stops expect more customers once the line opens."
)

ABSTRACT = (
    "Keyphrase extraction finds the phrases that best describe a document. "
    "We present a graph-based keyphrase extraction method that ranks candidate phrases with "
    "a random walk over a word co-occurrence graph. Word position is used to bias the random walk "
    "towards words that appear early in the document. Experiments on scientific abstracts show that "
    "the graph-based method outperforms statistical keyphrase extraction baselines."
)


@pytest.mark.parametrize(
    ("text", "label", "sign"),
    [(REVIEW_GOOD, "positive", 1), (REVIEW_BAD, "negative", -1)],
)
def test_sentiment_polarity(post_json, text, label, sign) -> None:
    response = post_json("/analysis/sentiment", {"text": text})
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    assert body["sentiment"] == label
    assert sign * body["score"] > 0.3
    assert 0.5 < body["confidence"] <= 1
    assert body["method"] == "local:embedding-axis" and body["model"] == "local"
    assert "aspects" not in body


def test_sentiment_neutral_and_mixed(post_json) -> None:
    neutral = post_json("/analysis/sentiment", {"text": NEUTRAL}).json()
    assert abs(neutral["score"]) < 0.3
    mixed = post_json("/analysis/sentiment", {"text": REVIEW_GOOD + " " + REVIEW_BAD}).json()
    assert mixed["sentiment"] == "mixed"


def test_sentiment_aspects_name_phrases_of_the_text(post_json) -> None:
    text = "The battery life is excellent and lasts for days. The screen is dim, blurry and disappointing."
    body = post_json("/api/v1/analysis/sentiment", {"text": text, "include_aspects": True}).json()
    aspects = {a["aspect"]: a for a in body["aspects"]}
    assert aspects, body
    for aspect in aspects.values():
        assert aspect["aspect"].lower() in text.lower()
        assert aspect["sentiment"] in ("positive", "negative", "neutral")
    battery = next(a for name, a in aspects.items() if "battery" in name)
    screen = next(a for name, a in aspects.items() if "screen" in name)
    assert battery["score"] > screen["score"]


def test_keywords_find_the_topic_phrases(post_json) -> None:
    body = post_json("/analysis/keywords", {"text": ABSTRACT, "maxKeywords": 5}).json()
    assert body["method"] == "local:singlerank-embedrank"
    assert len(body["keywords"]) == 5
    joined = " | ".join(body["keywords"])
    assert "keyphrase extraction" in joined
    assert any("graph" in k for k in body["keywords"])
    assert all(k.lower() in ABSTRACT.lower() for k in body["keywords"])


def test_keywords_merge_inflections_and_skip_stopwords() -> None:
    found = extract_keywords("Neural networks are trained. A neural network is trained on the data.", 10)
    stems = [k for k in found if k.startswith("neural network")]
    assert len(stems) == 1
    assert not any(k in ("the", "is", "are", "a") for k in found)


def test_summary_leads_with_the_main_point(post_json) -> None:
    body = post_json("/analysis/summarize", {"text": ARTICLE}).json()
    assert body["method"] == "local:lead-textrank" and body["tokensUsed"] == 0
    sentences = split_sentences(body["summary"])
    assert sentences[0].startswith("The city council approved a new public transport plan")
    assert 2 <= len(sentences) <= 3
    assert all(s in ARTICLE for s in sentences)
    assert 3 <= len(body["keyPoints"]) <= 5
    assert all(point in ARTICLE for point in body["keyPoints"])


def test_summary_respects_the_word_limit(post_json) -> None:
    body = post_json("/analysis/summarize", {"text": ARTICLE, "maxLength": 30}).json()
    assert len(body["summary"].split()) <= 30
    assert body["summary"].startswith("The city council approved")


def test_classify_single_and_multi_label(post_json) -> None:
    categories = ["Sports", "Business", "Politics", "Sci/Tech"]
    single = post_json(
        "/analysis/classify",
        {"text": "The football team won the championship final after a penalty shootout.", "categories": categories},
    ).json()
    assert [c["category"] for c in single["classifications"]] == ["Sports"]
    assert 0.25 < single["classifications"][0]["confidence"] <= 1
    assert single["method"] == "local:embedding-zero-shot"
    tech = post_json(
        "/analysis/classify",
        {
            "text": "Researchers unveiled a faster quantum computer chip built with new semiconductor materials.",
            "categories": categories,
            "multiLabel": True,
        },
    ).json()
    assert tech["classifications"][0]["category"] == "Sci/Tech"
    assert all(c["confidence"] >= 0.5 for c in tech["classifications"])


def test_classify_text_preview_is_cut_at_100_characters(post_json) -> None:
    text = "The bank reported quarterly profits below forecasts and its shares fell. " * 3
    body = post_json("/analysis/classify", {"text": text, "categories": ["Business", "Sports"]}).json()
    assert body["textPreview"] == text[:100] + "..."
    assert body["classifications"][0]["category"] == "Business"


def test_label_descriptions() -> None:
    assert describe("Sci/Tech") == "science and technology"
    assert describe("customerSupport") == "customer Support"
    assert describe("billing_issue") == "billing issue"


def test_analyze_runs_the_requested_analyses(post_json) -> None:
    text = "  Great product. Works well  "
    body = post_json("/analysis/analyze", {"text": text}).json()
    assert body["wordCount"] == 6 and body["charCount"] == len(text)
    assert set(body) == {"success", "wordCount", "charCount", "model", "sentiment", "summary", "keywords"}
    assert body["sentiment"]["sentiment"] == "positive"
    assert "success" not in body["sentiment"]
    only = post_json("/api/v1/analysis/text", {"text": ARTICLE, "analyses": ["keywords", "unknown"]}).json()
    assert "keywords" in only and "sentiment" not in only and "summary" not in only
    assert "electric buses" in " ".join(only["keywords"]["keywords"]) or "tram extension" in " ".join(
        only["keywords"]["keywords"]
    )


def test_generate_without_a_model_is_503_naming_the_settings(post_json) -> None:
    response = post_json("/analysis/generate", {"prompt": "Write a haiku"})
    assert response.status_code == 503
    body = response.json()
    assert body["success"] is False and body["statusCode"] == 503
    assert "OPENAI_API_KEY" in body["error"] and "ANTHROPIC_API_KEY" in body["error"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/analysis/sentiment", {"text": "  "}, "text should not be empty"),
        ("/analysis/summarize", {"text": "x", "maxLength": 5}, "maxLength must not be less than 10"),
        ("/analysis/keywords", {"text": "x", "maxKeywords": "10"}, "maxKeywords must be a number"),
        ("/analysis/classify", {"text": "x", "categories": "Sports"}, "categories must be an array"),
        ("/analysis/classify", {"text": "x", "categories": []}, "categories should not be empty"),
        ("/analysis/classify", {"text": "x", "categories": ["a"], "labels": []}, "property labels should not exist"),
        ("/analysis/generate", {"prompt": "x", "temperature": 3}, "temperature must not be greater than 2"),
        ("/analysis/text", {"text": 5}, "text must be a string"),
        ("/analysis/analyze", {}, "text must be a string"),
    ],
)
def test_bad_bodies_are_400_in_the_contract_shape(post_json, path, body, message) -> None:
    response = post_json(path, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"] == "Bad Request" and payload["statusCode"] == 400 and payload["success"] is False
    assert any(m.startswith(message) for m in payload["message"]), payload["message"]


def test_oversized_text_is_413(post_json, settings) -> None:
    settings.ANALYSIS_MAX_TEXT_CHARS = 100
    response = post_json("/analysis/keywords", {"text": "word " * 50})
    assert response.status_code == 413
    assert "ANALYSIS_MAX_TEXT_CHARS" in response.json()["error"]


def test_health_reports_analysis_and_its_methods(api, settings) -> None:
    body = api.get("/health").json()
    assert body["services"]["analysis"] is True
    assert body["config"]["analysisMethods"]["sentiment"] == "local:embedding-axis"
    assert body["config"]["analysisMethods"]["generate"] == "unavailable"
    settings.ANTHROPIC_API_KEY = "sk-ant"
    body = api.get("/health").json()
    assert body["config"]["llmModel"] == "claude-haiku-4-5"
    assert body["config"]["analysisMethods"]["keywords"] == "llm:claude-haiku-4-5"


def test_long_text_sentiment_reads_past_the_model_window(post_json) -> None:
    # The model sees ~256 word pieces: a pleasant opening longer than that must not hide the review.
    opening = "The cinema is lovely and the seats are very comfortable. " * 25
    text = opening + " ".join([REVIEW_BAD] * 20)
    body = post_json("/analysis/sentiment", {"text": text}).json()
    assert body["score"] < -0.15  # mostly negative sentences
    assert body["sentiment"] == "mixed"  # with strongly positive ones too
