"""Zero-shot classification: embedding similarity of the text to descriptions of each label.

Each label is described by a few sentence templates around its name ("Sci/Tech" reads as
"science and technology"); the label vector is their normalised mean. Similarities become
confidences with a softmax at ``TEMPERATURE`` (single-label: they sum to 1) or, for multi-label,
a sigmoid around the mean similarity, keeping labels above ``MULTI_LABEL_THRESHOLD``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .vectors import embed

TEMPLATES = (
    "{label}",
    "This text is about {label}.",
    "An article about {label}.",
    "A news story on {label}.",
)
TEMPERATURE = 0.05
MULTI_LABEL_THRESHOLD = 0.5
_ABBREVIATIONS = {"sci": "science", "tech": "technology", "biz": "business", "gov": "government", "env": "environment"}


@dataclass(frozen=True)
class Classification:
    category: str
    confidence: float


def describe(label: str) -> str:
    """Turn a label identifier into words: "Sci/Tech" -> "science and technology"."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", label)
    words = re.sub(r"[_\-]+", " ", words)
    parts = [part.strip() for part in re.split(r"\s*[/&|,+]\s*", words) if part.strip()]
    parts = [" ".join(_ABBREVIATIONS.get(w.lower(), w) for w in part.split()) for part in parts]
    return " and ".join(parts) if parts else label


def _label_vectors(labels: list[str]) -> np.ndarray:
    texts = [template.format(label=describe(label)) for label in labels for template in TEMPLATES]
    vectors = embed(texts).reshape(len(labels), len(TEMPLATES), -1).mean(axis=1)
    unit: np.ndarray = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


def similarities(texts: list[str], labels: list[str]) -> np.ndarray:
    """Cosine similarity of each text (rows) to each label (columns)."""
    text_vectors = embed(texts)
    cosines: np.ndarray = text_vectors @ _label_vectors(labels).T
    return cosines


def classify(text: str, labels: list[str], multi_label: bool = False) -> list[Classification]:
    unique = list(dict.fromkeys(label for label in labels if label.strip()))
    if not unique:
        return []
    sims = similarities([text], unique)[0]
    if multi_label:
        confidences = 1.0 / (1.0 + np.exp(-(sims - sims.mean()) / TEMPERATURE)) if len(unique) > 1 else np.array([1.0])
        ranked = [Classification(unique[i], round(float(confidences[i]), 4)) for i in np.argsort(-sims)]
        kept = [c for c in ranked if c.confidence >= MULTI_LABEL_THRESHOLD]
        return kept or ranked[:1]
    weights = np.exp((sims - sims.max()) / TEMPERATURE)
    probabilities = weights / weights.sum()
    best = int(np.argmax(probabilities))
    return [Classification(unique[best], round(float(probabilities[best]), 4))]
