"""PageRank by power iteration on a small dense weighted graph (a document's words or sentences)."""

from __future__ import annotations

import numpy as np


def pagerank(
    weights: np.ndarray,
    personalization: np.ndarray | None = None,
    damping: float = 0.85,
    iterations: int = 100,
    tolerance: float = 1e-8,
) -> np.ndarray:
    size = weights.shape[0]
    if size == 0:
        return np.zeros(0)
    teleport = np.full(size, 1.0 / size) if personalization is None else personalization / personalization.sum()
    out_weight = weights.sum(axis=1)
    # Dangling nodes (no edges) hand their score to the teleport distribution.
    transition = np.divide(weights, out_weight[:, None], out=np.zeros_like(weights), where=out_weight[:, None] > 0)
    dangling = out_weight == 0
    scores = teleport.copy()
    for _ in range(iterations):
        updated: np.ndarray = (
            damping * (scores @ transition + scores[dangling].sum() * teleport) + (1 - damping) * teleport
        )
        if np.abs(updated - scores).sum() < tolerance:
            return updated
        scores = updated
    return scores
