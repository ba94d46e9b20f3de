"""Extractive summary: a lead-biased TextRank over sentence embeddings, with MMR selection.

Sentences are nodes, cosine similarities of their embeddings are edge weights, and PageRank is
personalised towards the opening sentences, where news and reports put their main point (the
reason Lead-3 is so strong on CNN/DailyMail); the rank is then weighted by position again. The
opening sentence is always kept, and further sentences are picked by maximal marginal relevance
(score minus ``REDUNDANCY`` times the similarity to what is already chosen), so the summary does
not repeat itself. The summary lists the chosen sentences in document order; the key points are
the most central sentences, most central first. The three constants were set on the 100 SummEval
articles of ``benchmarks/analysis.py`` (so that figure is optimistic for other text).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .graph import pagerank
from .text import split_sentences, word_count
from .vectors import embed

DEFAULT_SENTENCES = 3
MAX_KEY_POINTS = 5
MAX_SENTENCES = 400  # very long texts: rank the first 400 sentences
POSITION_DECAY = 1.0  # personalisation weight of sentence i is 1 / (i + 1) ** POSITION_DECAY
DAMPING = 0.85
REDUNDANCY = 0.3
MIN_KEY_POINT_WORDS = 4


@dataclass(frozen=True)
class SummaryResult:
    summary: str
    key_points: list[str]
    sentences: int


def summarise(text: str, max_words: int | None = None) -> SummaryResult:
    sentences = split_sentences(text)[:MAX_SENTENCES]
    if len(sentences) <= 1:
        only = sentences[0] if sentences else text.strip()
        return SummaryResult(_truncate_words(only, max_words), [only] if only else [], len(sentences))
    vectors = embed(sentences)
    centrality, scores = _rank(vectors)
    chosen = _choose(sentences, vectors, scores, max_words)
    summary = " ".join(sentences[i] for i in sorted(chosen))
    if max_words is not None:
        summary = _truncate_words(summary, max_words)
    return SummaryResult(summary, _key_points(sentences, centrality), len(sentences))


def _rank(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centrality, lead-weighted score) of each sentence."""
    similarity = np.clip(vectors @ vectors.T, 0.0, None)
    np.fill_diagonal(similarity, 0.0)
    positions = np.arange(len(vectors), dtype=np.float64)
    lead_bias = 1.0 / (positions + 1.0) ** POSITION_DECAY
    centrality = pagerank(similarity, personalization=lead_bias, damping=DAMPING)
    scores = centrality * lead_bias
    return centrality, scores / scores.max()


def _choose(sentences: list[str], vectors: np.ndarray, scores: np.ndarray, max_words: int | None) -> list[int]:
    # Without a word limit: about a third of a short text, three sentences of a long one.
    count = min(DEFAULT_SENTENCES, max(1, round(len(sentences) / 3))) if max_words is None else len(sentences)
    budget = max_words if max_words is not None else None
    chosen = [0]
    if budget is not None:
        budget -= word_count(sentences[0])
    while len(chosen) < count and (budget is None or budget > 0):
        redundancy = (vectors @ vectors[chosen].T).max(axis=1)
        value = scores - REDUNDANCY * redundancy
        value[chosen] = -np.inf
        if budget is not None:
            too_long = np.array([word_count(s) > budget for s in sentences])
            value[too_long] = -np.inf
        best = int(np.argmax(value))
        if not np.isfinite(value[best]):
            break
        chosen.append(best)
        if budget is not None:
            budget -= word_count(sentences[best])
    return chosen


def _key_points(sentences: list[str], scores: np.ndarray) -> list[str]:
    order = np.argsort(-scores, kind="stable")
    points = [sentences[i] for i in order if word_count(sentences[i]) >= MIN_KEY_POINT_WORDS]
    return points[:MAX_KEY_POINTS] or [sentences[int(order[0])]]


def _truncate_words(text: str, max_words: int | None) -> str:
    if max_words is None:
        return text
    words = text.split()
    if len(words) <= max_words:
        return text
    return " ".join(words[:max_words]).rstrip(",;:") + "..."
