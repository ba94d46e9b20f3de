"""The embeddings area's settings, read once (issue 13; the pattern of ``rerank_config()``).

``embedding_config()`` is cached; one ``setting_changed`` receiver (mlservice/core/resets.py)
rebuilds it when a setting it holds changes (``EMBEDDING_SETTINGS``), so ``override_settings``
and pytest-django's ``settings`` fixture reach the next call. Code reads ``config.field``, never
``django.conf.settings``. Here (not in services/embedding_service.py) so the providers and the
vector cache can read it without importing the service.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from mlservice.core.resets import register_reset

from .local import BatchingLimits


@dataclass(frozen=True)
class EmbeddingConfig:
    """Settings of the embeddings area (``embedding_config()``; rebuilt when a setting changes)."""

    model: str  # EMBEDDING_MODEL as configured ("" chooses by OPENAI_API_KEY)
    dimensions: int  # EMBEDDING_DIMENSIONS; 0: the model's own
    openai_api_key: str
    openai_base_url: str
    openai_models: tuple[str, ...]  # EMBEDDING_OPENAI_MODELS: extra names an OpenAI-compatible server serves
    openai_batch_size: int
    provider_timeout: float  # PROVIDER_TIMEOUT_SECONDS
    provider_max_retries: int  # PROVIDER_MAX_RETRIES
    local_backend: str  # onnx-int8, onnx or torch
    models_dir: Path
    threads: int  # EMBEDDING_THREADS; 0: auto_threads()
    request_lanes: int  # EMBEDDING_REQUEST_LANES; 0: the cores
    batch_size: int
    batching: BatchingLimits | None  # dynamic batching; None when EMBEDDING_BATCH_WINDOW_MS is 0
    cache_enabled: bool
    cache_alias: str
    cache_timeout: int  # 0: the cache's own default
    cache_retry_seconds: float

    @property
    def openai_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)


def _batching_limits() -> BatchingLimits | None:
    """Dynamic batching settings, or None when EMBEDDING_BATCH_WINDOW_MS is 0 (one model run per request)."""
    if settings.EMBEDDING_BATCH_WINDOW_MS <= 0:
        return None
    return BatchingLimits(
        window_seconds=settings.EMBEDDING_BATCH_WINDOW_MS / 1000,
        max_texts=settings.EMBEDDING_BATCH_MAX_TEXTS,
        max_queue=int(settings.MODEL_GATES.get("local-embeddings", {}).get("queue", 32)) or 1,
        queue_timeout=settings.MODEL_QUEUE_TIMEOUT_SECONDS,
        max_queued_texts=settings.EMBEDDING_MAX_QUEUED_TEXTS,
    )


@functools.cache
def embedding_config() -> EmbeddingConfig:
    return EmbeddingConfig(
        model=settings.EMBEDDING_MODEL,
        dimensions=settings.EMBEDDING_DIMENSIONS,
        openai_api_key=settings.OPENAI_API_KEY,
        openai_base_url=settings.OPENAI_BASE_URL,
        openai_models=tuple(settings.EMBEDDING_OPENAI_MODELS),
        openai_batch_size=settings.EMBEDDING_OPENAI_BATCH_SIZE,
        provider_timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        provider_max_retries=settings.PROVIDER_MAX_RETRIES,
        local_backend=settings.EMBEDDING_LOCAL_BACKEND,
        models_dir=settings.EMBEDDING_MODELS_DIR,
        threads=settings.EMBEDDING_THREADS,
        request_lanes=settings.EMBEDDING_REQUEST_LANES,
        batch_size=settings.EMBEDDING_BATCH_SIZE,
        batching=_batching_limits(),
        cache_enabled=settings.EMBEDDING_CACHE_ENABLED,
        cache_alias=settings.EMBEDDING_CACHE_ALIAS,
        cache_timeout=settings.EMBEDDING_CACHE_TIMEOUT,
        cache_retry_seconds=settings.EMBEDDING_CACHE_RETRY_SECONDS,
    )


# Every setting embedding_config() reads: names, or prefixes ending in "_".
EMBEDDING_SETTINGS = (
    "EMBEDDING_",
    "OPENAI_",
    "PROVIDER_TIMEOUT_SECONDS",
    "PROVIDER_MAX_RETRIES",
    "MODEL_GATES",
    "MODEL_QUEUE_TIMEOUT_SECONDS",
)
register_reset(embedding_config.cache_clear, settings=EMBEDDING_SETTINGS)
