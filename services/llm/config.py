"""The LLM area's settings, read once (issue 13; the pattern of ``rerank_config()``).

``llm_config()`` is cached; one ``setting_changed`` receiver (mlservice/core/resets.py) rebuilds it
when a setting it holds changes (``LLM_SETTINGS``), so ``override_settings`` and pytest-django's
``settings`` fixture reach the next call. Code reads ``config.field``, never ``django.conf.settings``.
Here (not in services/llm_service.py) so the providers, the local models and the services that
use the LLM can read it without importing the service.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from mlservice.core.resets import register_reset


@dataclass(frozen=True)
class LlmConfig:
    """Settings of the LLM area (``llm_config()``; rebuilt when a setting changes)."""

    # Providers
    openai_api_key: str
    openai_base_url: str  # an OpenAI-compatible server when set
    openai_default_model: str
    anthropic_api_key: str
    anthropic_base_url: str
    anthropic_default_model: str
    provider_timeout: float  # PROVIDER_TIMEOUT_SECONDS
    provider_max_retries: int  # PROVIDER_MAX_RETRIES
    # Defaults of a request
    default_model: str  # DEFAULT_LLM_MODEL; "": chosen by which keys exist
    fallback_to_default: bool  # LLM_FALLBACK_TO_DEFAULT
    default_temperature: float
    default_max_tokens: int
    # The local LLM (services/llm/local_models.py, services/llm/local_provider.py)
    local_model: str  # LOCAL_LLM_MODEL as configured: a packaged name, a .gguf path, or "" / off / none
    local_models_dir: Path
    local_max_tokens: int
    local_context_tokens: int  # per slot
    local_threads: int
    local_prompt_threads: int
    # Images (/generation/image)
    image_model: str

    @property
    def openai_configured(self) -> bool:
        """OpenAI or an OpenAI-compatible server (as ``EmbeddingConfig.openai_configured``)."""
        return bool(self.openai_api_key or self.openai_base_url)


@functools.cache
def llm_config() -> LlmConfig:
    return LlmConfig(
        openai_api_key=settings.OPENAI_API_KEY,
        openai_base_url=settings.OPENAI_BASE_URL,
        openai_default_model=settings.OPENAI_DEFAULT_MODEL,
        anthropic_api_key=settings.ANTHROPIC_API_KEY,
        anthropic_base_url=settings.ANTHROPIC_BASE_URL,
        anthropic_default_model=settings.ANTHROPIC_DEFAULT_MODEL,
        provider_timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        provider_max_retries=settings.PROVIDER_MAX_RETRIES,
        default_model=settings.DEFAULT_LLM_MODEL,
        fallback_to_default=settings.LLM_FALLBACK_TO_DEFAULT,
        default_temperature=settings.DEFAULT_TEMPERATURE,
        default_max_tokens=settings.DEFAULT_MAX_TOKENS,
        local_model=settings.LOCAL_LLM_MODEL or "",
        local_models_dir=Path(settings.LOCAL_LLM_MODELS_DIR),
        local_max_tokens=settings.LOCAL_LLM_MAX_TOKENS,
        local_context_tokens=settings.LOCAL_LLM_CONTEXT_TOKENS,
        local_threads=settings.LOCAL_LLM_THREADS,
        local_prompt_threads=settings.LOCAL_LLM_PROMPT_THREADS,
        image_model=settings.IMAGE_MODEL,
    )


# Every setting llm_config() reads: names, or prefixes ending in "_".
LLM_SETTINGS = (
    "OPENAI_",
    "ANTHROPIC_",
    "PROVIDER_TIMEOUT_SECONDS",
    "PROVIDER_MAX_RETRIES",
    "DEFAULT_LLM_MODEL",
    "LLM_FALLBACK_TO_DEFAULT",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_MAX_TOKENS",
    "LOCAL_LLM_",
    "IMAGE_MODEL",
)
register_reset(llm_config.cache_clear, settings=LLM_SETTINGS)
