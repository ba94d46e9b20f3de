"""Shared types of the embedding providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class EmbeddingResult:
    """Vectors for a list of texts, in input order: float32 (n, d), each row L2-normalised."""

    vectors: np.ndarray
    model: str
    dimensions: int
    prompt_tokens: int = 0


@dataclass(frozen=True)
class ModelInfo:
    """One entry of ``GET /embeddings/models`` (contract section 3)."""

    id: str
    dimensions: int | None
    max_tokens: int
    provider: str
    description: str

    def as_contract(self) -> dict[str, object]:
        return {
            "id": self.id,
            "dimensions": self.dimensions,
            "maxTokens": self.max_tokens,
            "provider": self.provider,
            "description": self.description,
        }


@dataclass(frozen=True)
class Encoded:
    """What a provider returns for texts it actually computed (cache misses)."""

    vectors: np.ndarray
    token_counts: list[int]


class EmbeddingProvider(Protocol):
    @property
    def cache_namespace(self) -> str:
        """Part of every cache key, so vectors of different backends or servers never mix."""
        ...

    def encode(self, texts: list[str], model: str, dimensions: int | None) -> Encoded: ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Row-wise unit length in float32; an all-zero row stays zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    unit: np.ndarray = vectors / norms
    return unit
