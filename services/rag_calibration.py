"""Calibrated RAG relevance scores: how unlikely a hit's similarity is for unrelated text.

A raw cosine means different things for different queries and embedding models: all-MiniLM-L6-v2
gives a relevant SciFact abstract a median cosine of 0.59 and a quarter of them under 0.46, while
a short generic query can sit at 0.3 against everything. So the score compared with ``minScore``
and returned as ``relevanceScore`` is read against the query's own null distribution:

1. **Background.** The query is compared with a fixed, packaged set of generic sentences on
   everyday topics (``rag_background.txt``, ~200 lines, embedded once per process and model).
   Their cosines show how similar this query looks to text that is *not* about it.
2. **Tail model.** The upper tail of those cosines is fitted by peaks over threshold: ``u`` is the
   background's 90th percentile (``TAIL_FRACTION`` 0.1 above it) and the excesses above ``u`` are
   exponential with scale ``beta``, read from the quantiles (``beta = (q98 - u) / ln 5``, since an
   exponential tail puts the 98th percentile ``beta * ln(0.1 / 0.02)`` above the 90th). Quantiles
   ignore the top 2% of the background, the few sentences that may touch the query's topic. An
   unrelated passage then reaches cosine ``c`` with probability
   ``p(c) = min(1, TAIL_FRACTION * exp(-(c - u) / beta))``.
3. **Score.** ``score = exp(-N * p(c))``: the probability that none of ``N`` unrelated passages
   would be this similar to the query by chance (1 minus a family-wise p-value, Poisson
   approximation), where ``N`` is the number of passages the search ran over (the collection's
   chunks), and at least the background's size: a hit must stand out more than the best of the
   background would by chance, so a one-document collection does not wave through whatever it
   holds. It is in [0, 1], monotone in the cosine for a given query, and "probability-like":
   0.5 means a chance match in a collection of this size would be this similar about half the
   time; 0.9 means one time in ten; a clearly relevant passage scores close to 1.

There is no constant fitted to an evaluation set: the background is generic text, 0.1 and 0.02
are the usual peaks-over-threshold choices, ``N`` is the collection's size. The score depends only
on the query, the hit's cosine, the background and the collection's size, so it is the same in
every mode (dense, lexical, hybrid, rerank) and on every store; modes only change the ranking. A
hit's score falls slowly (log scale) as a collection grows: more passages, more chance matches.
Known limit: a query whose topic the background covers well (everyday subjects: holidays,
passwords) is held to a higher bar, as some of those sentences are related to it.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlservice.core.resets import register_reset

BACKGROUND_FILE = Path(__file__).with_name("rag_background.txt")
TAIL_FRACTION = 0.1  # the upper decile of the background is the tail (peaks-over-threshold convention)
SCALE_QUANTILE = 0.98  # the tail's scale from the 90th-98th percentile gap, ignoring the top 2%
_MIN_SCALE = 1e-3  # a degenerate background (all cosines equal) still gives a finite scale
_LOCK = threading.Lock()
_VECTORS: dict[str, np.ndarray] = {}


@functools.cache
def background_sentences() -> tuple[str, ...]:
    lines = BACKGROUND_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def background_vectors(model: str, embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """The background embedded with ``model`` (L2-normalised rows), computed once per process."""
    cached = _VECTORS.get(model)
    if cached is not None:
        return cached
    with _LOCK:
        cached = _VECTORS.get(model)
        if cached is None:
            vectors = np.asarray(embed(list(background_sentences())), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            cached = vectors / np.where(norms > 0, norms, 1.0)
            _VECTORS[model] = cached
        return cached


def clear_cache() -> None:
    with _LOCK:
        _VECTORS.clear()


# Another embedding configuration may give the same model name other vectors (tests' fakes).
register_reset(clear_cache, settings=("EMBEDDING_", "OPENAI_"))


@dataclass(frozen=True)
class Calibration:
    """One query's null model: ``p(c) = tail * exp(-(c - threshold) / scale)``."""

    threshold: float
    scale: float
    passages: int  # N: the passages searched, at least the background's size
    tail: float = TAIL_FRACTION

    def chance(self, cosine: float) -> float:
        """Probability that one unrelated passage is at least this similar (capped at 1)."""
        exponent = math.log(self.tail) - (cosine - self.threshold) / self.scale
        return 1.0 if exponent >= 0 else math.exp(exponent)

    def score(self, cosine: float) -> float:
        """Probability that no unrelated passage of ``passages`` reaches ``cosine`` by chance."""
        return math.exp(-self.passages * self.chance(cosine))


def calibrate(query_vector: np.ndarray, background: np.ndarray, passages: int) -> Calibration:
    """Fit the tail of the query's cosines to the background sentences; ``passages``: the size of
    the collection searched."""
    vector = np.asarray(query_vector, dtype=np.float32)
    norm = float(np.linalg.norm(vector))
    cosines = (background @ (vector / norm if norm > 0 else vector)).astype(np.float64)
    threshold, upper = (float(q) for q in np.quantile(cosines, [1 - TAIL_FRACTION, SCALE_QUANTILE]))
    scale = max((upper - threshold) / math.log(TAIL_FRACTION / (1 - SCALE_QUANTILE)), _MIN_SCALE)
    return Calibration(threshold=threshold, scale=scale, passages=max(int(passages), len(cosines)))
