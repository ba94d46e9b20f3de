"""OpenAI embeddings (and OpenAI-compatible servers such as Ollama or vLLM) via the official SDK.

- inputs go out in calls of at most ``batch_size`` (OpenAI allows 2048 per request);
- the SDK retries 408/409/429/5xx and connection failures with exponential backoff, honouring
  ``Retry-After`` (``PROVIDER_MAX_RETRIES``, ``PROVIDER_TIMEOUT_SECONDS``);
- failures become contract errors: unreachable -> 503, the provider answered an error -> 502,
  the provider rejected the input itself (400/422, e.g. text too long) -> 400.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import numpy as np

from mlservice import metrics
from mlservice.core.errors import UpstreamError
from mlservice.core.provider_errors import map_provider_error

from .base import Encoded, ModelInfo, l2_normalise

logger = logging.getLogger("mlservice.embeddings")

# Contract section 3, in its order.
OPENAI_MODELS = (
    ModelInfo("text-embedding-3-small", 1536, 8191, "openai", "Most cost-effective embedding model"),
    ModelInfo("text-embedding-3-large", 3072, 8191, "openai", "Highest accuracy embedding model"),
    ModelInfo("text-embedding-ada-002", 1536, 8191, "openai", "Legacy embedding model"),
)
OPENAI_MODEL_IDS = tuple(info.id for info in OPENAI_MODELS)
MAX_INPUTS_PER_CALL = 2048


def supports_dimensions(model: str) -> bool:
    """Only text-embedding-3-* accept the ``dimensions`` parameter (OpenAI rejects it for ada-002)."""
    return model.startswith("text-embedding-3")


class OpenAIProvider:
    def __init__(
        self,
        api_key: str,
        base_url: str,
        timeout: float,
        max_retries: int,
        batch_size: int = MAX_INPUTS_PER_CALL,
    ) -> None:
        import openai

        self.base_url = base_url
        self.batch_size = max(1, min(batch_size, MAX_INPUTS_PER_CALL))
        self.client = openai.OpenAI(
            # Compatible servers (Ollama, vLLM) often need no key, but the SDK insists on one.
            api_key=api_key or "not-needed",
            base_url=base_url or None,
            timeout=timeout,
            max_retries=max_retries,
        )
        self.label = "OpenAI-compatible server" if base_url else "OpenAI"
        self.metrics_provider = "compatible" if base_url else "openai"

    @property
    def cache_namespace(self) -> str:
        if not self.base_url:
            return "openai"
        # Different servers may serve different weights under one model name.
        return "openai-" + hashlib.sha256(self.base_url.encode()).hexdigest()[:10]

    def encode(self, texts: list[str], model: str, dimensions: int | None) -> Encoded:
        vectors: list[np.ndarray] = []
        tokens: list[int] = []
        for start in range(0, len(texts), self.batch_size):
            chunk = texts[start : start + self.batch_size]
            chunk_vectors, chunk_tokens = self._call(chunk, model, dimensions)
            vectors.append(chunk_vectors)
            tokens.extend(_spread(chunk_tokens, chunk))
        return Encoded(vectors=l2_normalise(np.concatenate(vectors)), token_counts=tokens)

    def _call(self, texts: list[str], model: str, dimensions: int | None) -> tuple[np.ndarray, int]:
        import openai

        params: dict[str, Any] = {"input": texts, "model": model, "encoding_format": "float"}
        if dimensions:
            params["dimensions"] = dimensions
        try:
            # The model passed the service's routing: a known OpenAI model or a configured name.
            with metrics.model_timer("embedding", self.metrics_provider, model):
                response = self.client.embeddings.create(**params)
        except openai.OpenAIError as exc:
            raise map_provider_error(
                exc, self.label, f"embedding ({model})", "OPENAI_API_KEY", "OPENAI_BASE_URL"
            ) from exc
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise UpstreamError(f"{self.label} returned {len(data)} embeddings for {len(texts)} inputs")
        vectors = np.asarray([item.embedding for item in data], dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] == 0:
            raise UpstreamError(f"No embedding returned from {self.label}")
        usage = getattr(response, "usage", None)
        tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        metrics.record_tokens("embedding", self.metrics_provider, model, prompt=tokens)
        return vectors, tokens


def _spread(total: int, texts: list[str]) -> list[int]:
    """Per-text token counts from a call's total (OpenAI reports only the sum), by text length."""
    if not texts:
        return []
    weights = np.array([max(len(text), 1) for text in texts], dtype=np.float64)
    shares = np.floor(total * weights / weights.sum()).astype(np.int64)
    shares[: total - int(shares.sum())] += 1
    counts: list[int] = shares.tolist()
    return counts
