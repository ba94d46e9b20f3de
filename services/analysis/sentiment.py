"""Sentiment from sentence embeddings: the text's position along a positive-negative axis.

The axis is the difference between the centroids of hand-written positive and negative
prototype sentences, measured from their common centre (so a text with no evaluative content
lands near zero). Chosen over a lexicon: on SST-2 dev it scores 0.78 against VADER's 0.63, close
to the 0.80 that a classifier trained on SST-2 reaches on the same vectors (``benchmarks/analysis.py``).
Texts of several sentences whose sentences point strongly in opposite directions are ``mixed``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .keywords import extract_keywords
from .sentiment_prototypes import NEGATIVE, POSITIVE
from .text import split_sentences
from .vectors import embed

NEUTRAL_BAND = 0.15  # |score| below this is "neutral"
MIXED_THRESHOLD = 0.35  # sentences at least this strong in both directions make a text "mixed"
MAX_SENTENCES = 64  # longer texts are scored on their first sentences
# The embedding model reads about 256 word pieces; past this many words the whole-text vector
# sees only the opening, so the overall score becomes the mean of the sentence scores.
WHOLE_TEXT_MAX_WORDS = 150


@dataclass(frozen=True)
class Axis:
    centre: np.ndarray
    direction: np.ndarray
    scale: float  # typical projection of a prototype, so a clear review scores about +-0.76


@dataclass(frozen=True)
class SentimentResult:
    sentiment: str
    score: float
    confidence: float
    aspects: list[dict] | None = None


@functools.cache
def _axis() -> Axis:
    positive = embed(list(POSITIVE))
    negative = embed(list(NEGATIVE))
    centre = np.vstack([positive, negative]).mean(axis=0)
    direction = positive.mean(axis=0) - negative.mean(axis=0)
    direction /= np.linalg.norm(direction)
    projections = np.concatenate([(positive - centre) @ direction, -((negative - centre) @ direction)])
    return Axis(centre=centre, direction=direction, scale=float(np.mean(np.abs(projections))))


def polarity_scores(texts: list[str]) -> np.ndarray:
    axis = _axis()
    vectors = embed(texts)
    raw = (vectors - axis.centre) @ axis.direction / axis.scale
    return np.tanh(raw)


def label_for(score: float) -> str:
    if score >= NEUTRAL_BAND:
        return "positive"
    if score <= -NEUTRAL_BAND:
        return "negative"
    return "neutral"


def analyse_sentiment(text: str, include_aspects: bool = False) -> SentimentResult:
    sentences = split_sentences(text)[:MAX_SENTENCES] or [text]
    texts = [text] + (sentences if len(sentences) > 1 else [])
    scores = polarity_scores(texts)
    sentence_scores = scores[1:] if len(sentences) > 1 else scores[:1]
    long_text = len(text.split()) > WHOLE_TEXT_MAX_WORDS and len(sentences) > 1
    overall = float(sentence_scores.mean() if long_text else scores[0])
    label = label_for(overall)
    if len(sentences) > 1 and sentence_scores.max() >= MIXED_THRESHOLD and sentence_scores.min() <= -MIXED_THRESHOLD:
        label = "mixed"
    confidence = _confidence(overall, label)
    aspects = _aspects(text, sentences, sentence_scores) if include_aspects else None
    return SentimentResult(label, round(overall, 4), round(confidence, 4), aspects)


def _confidence(score: float, label: str) -> float:
    if label == "neutral":
        return 0.5 + 0.5 * (1 - abs(score) / NEUTRAL_BAND)
    if label == "mixed":
        return 0.5
    return 0.5 + 0.5 * min(1.0, abs(score) / math.tanh(1.0))


def _aspects(text: str, sentences: list[str], sentence_scores: np.ndarray) -> list[dict]:
    """Key phrases of the text, each with the sentiment of the sentences that mention it."""
    aspects = []
    for phrase in extract_keywords(text, max_keywords=5):
        mentions = [
            float(s)
            for sentence, s in zip(sentences, sentence_scores, strict=False)
            if phrase.lower() in sentence.lower()
        ]
        if not mentions:
            continue
        score = sum(mentions) / len(mentions)
        aspects.append({"aspect": phrase, "sentiment": label_for(score), "score": round(score, 4)})
    return aspects
