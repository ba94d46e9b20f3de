"""Chat completions behind one interface, whichever provider serves them.

    llm = llm_service.get_instance()
    llm.is_available()                      # a generative model is configured and usable
    result = llm.chat(messages, model=None, temperature=None, max_tokens=None, json_mode=False)
    result.content, result.model, result.usage, result.finish_reason
    for delta in llm.stream_chat(messages, ...):   # ChatDelta; the last has done=True + usage
        ...
    result = async_to_sync(LLMService.get_instance().complete)(messages, ...)   # the guide's pattern

Routing by model name (``model`` argument, else ``DEFAULT_LLM_MODEL``, else by which keys exist):
- ``claude-*``                  -> Anthropic (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``)
- ``gpt-*``, ``o1``/``o3``..., ``chatgpt-*`` -> OpenAI (``OPENAI_API_KEY``; ``OPENAI_BASE_URL`` if set)
- ``local`` or the ``LOCAL_LLM_MODEL`` name -> the local GGUF model (``services/llm/local_provider.py``)
- anything else                 -> the OpenAI-compatible server at ``OPENAI_BASE_URL`` when set.
The default model is ``DEFAULT_LLM_MODEL``, else the configured cloud provider's (an explicit key
wins), else the local LLM, which needs no key at all. A name whose provider is not configured
goes to the default provider when ``LLM_FALLBACK_TO_DEFAULT`` is on (the gateway always sends
OpenAI names); the result's ``model`` names the model that really answered. With nothing
configured every call raises ``ServiceUnavailable`` naming the settings to set (for the local
LLM: ``LOCAL_LLM_MODEL`` and the package to install); provider failures raise ``UpstreamError``.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlservice import metrics
from mlservice.core.errors import NotConfigured

from .llm import local_models
from .llm.base import ChatDelta, ChatProvider, ChatRequest, ChatResult, empty_usage
from .llm.config import LlmConfig, llm_config

if TYPE_CHECKING:  # imported when used: it loads the OpenAI SDK
    from .llm.openai_provider import OpenAIChatProvider

__all__ = ["ChatDelta", "ChatResult", "ChatStream", "LLMService", "empty_usage", "get_instance"]

logger = logging.getLogger("mlservice.llm")

NOT_CONFIGURED = (
    "No language model is configured: set OPENAI_API_KEY (OpenAI), ANTHROPIC_API_KEY (Anthropic) or "
    "OPENAI_BASE_URL (an OpenAI-compatible server such as Ollama or vLLM), and optionally DEFAULT_LLM_MODEL; "
    "or set LOCAL_LLM_MODEL to a packaged local model or a .gguf file"
)
LOCAL_NAMES = {"local"}

_OPENAI_MODEL = re.compile(r"^(gpt-|chatgpt-|o\d|text-|davinci|babbage)")
_ANTHROPIC_MODEL = re.compile(r"^claude")


@dataclass(frozen=True)
class Route:
    kind: str  # "openai", "anthropic", "compatible" or "local"
    model: str


@dataclass(frozen=True)
class ChatStream:
    """A streamed answer as a service hands it to a view: the deltas to send as they come, and
    ``final_body(full_text, last_delta)``, the body of the closing event (the one a non-streaming
    call answers with). The HTTP layer writes both as Server-Sent Events."""

    deltas: Iterator[ChatDelta]
    final_body: Callable[[str, ChatDelta], dict[str, Any]]


class LLMService:
    def __init__(self) -> None:
        self._providers: dict[str, ChatProvider] = {}
        self._lock = threading.Lock()

    @classmethod
    def get_instance(cls) -> LLMService:
        """The process-wide service (the guide's service pattern)."""
        return get_instance()

    async def complete(
        self,
        messages: list[dict[str, str]],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_mode: bool = False,
    ) -> ChatResult:
        """``chat`` for async callers (``async_to_sync(llm.complete)(...)``).

        A provider call is outbound HTTP (or the local llama.cpp server) and touches no ORM, so it
        runs right here, on the private loop ``async_to_sync`` gives the calling thread; it blocks
        that loop, which serves only this call.
        """
        return self.chat(messages, model=model, temperature=temperature, max_tokens=max_tokens, json_mode=json_mode)

    # --- configuration -------------------------------------------------------------------
    def configured_kinds(self) -> list[str]:
        config = llm_config()
        kinds = []
        if config.openai_api_key:
            kinds.append("openai")
        if config.anthropic_api_key:
            kinds.append("anthropic")
        if config.openai_base_url:
            kinds.append("compatible")
        if local_models.is_installed():
            kinds.append("local")
        return kinds

    def is_available(self) -> bool:
        """A generative model can answer: a configured provider, or the installed local LLM."""
        return bool(self.configured_kinds())

    def remote_available(self) -> bool:
        """A cloud or OpenAI-compatible provider is configured (the local LLM does not count)."""
        config = llm_config()
        return config.openai_configured or bool(config.anthropic_api_key)

    def default_model(self) -> str | None:
        config = llm_config()
        if config.default_model:
            return config.default_model
        if config.openai_configured:
            return config.openai_default_model
        if config.anthropic_api_key:
            return config.anthropic_default_model
        if local_models.is_enabled():
            # Even when its package is missing: the call then says what to install.
            return local_models.model_name()
        return None

    def resolve(self, model: str | None) -> Route:
        """Which provider serves ``model`` (or the default), following the module's routing rules."""
        default = self.default_model()
        if default is None:
            raise NotConfigured(NOT_CONFIGURED)
        name = (model or "").strip() or default
        route = self._route_for(name)
        if route is not None:
            return route
        if name != default and llm_config().fallback_to_default:
            fallback = self._route_for(default)
            if fallback is not None:
                logger.info("model %s has no configured provider; using %s", name, default)
                return fallback
        raise NotConfigured(self._missing_provider_message(name))

    def _route_for(self, name: str) -> Route | None:
        if local_models.is_enabled() and (name in LOCAL_NAMES or name == local_models.model_name()):
            return Route("local", local_models.model_name())
        config = llm_config()
        if _ANTHROPIC_MODEL.match(name):
            return Route("anthropic", name) if config.anthropic_api_key else None
        if _OPENAI_MODEL.match(name):
            if config.openai_configured:
                return Route("openai", name)
            return None
        if config.openai_base_url:
            return Route("compatible", name)
        return None

    @staticmethod
    def _missing_provider_message(name: str) -> str:
        if _ANTHROPIC_MODEL.match(name):
            return f"Model {name} needs ANTHROPIC_API_KEY, which is not set"
        if _OPENAI_MODEL.match(name):
            return f"Model {name} needs OPENAI_API_KEY (or OPENAI_BASE_URL), which is not set"
        return f"Model {name} needs OPENAI_BASE_URL (an OpenAI-compatible server), which is not set"

    # --- calls ---------------------------------------------------------------------------
    def chat(
        self,
        messages: list[dict[str, str]],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_mode: bool = False,
        top_logprobs: int = 0,
        json_schema: dict[str, Any] | None = None,
    ) -> ChatResult:
        route = self.resolve(model)
        request = self._request(messages, route, temperature, max_tokens, json_mode, top_logprobs, json_schema)
        label = _metrics_model(route)
        if route.kind == "local":  # the local provider times its own run, without the wait for its slot
            result = self._provider(route.kind).chat(request)
        else:
            with metrics.model_timer("llm", route.kind, label):
                result = self._provider(route.kind).chat(request)
        _record_usage(route, label, result.usage)
        return result

    def stream_chat(
        self,
        messages: list[dict[str, str]],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_mode: bool = False,
    ) -> Iterator[ChatDelta]:
        """Resolves the provider now (so configuration errors raise here), then streams lazily."""
        route = self.resolve(model)
        request = self._request(messages, route, temperature, max_tokens, json_mode)
        return _measured_stream(self._provider(route.kind).stream_chat(request), route)

    @staticmethod
    def _request(
        messages: list[dict[str, str]],
        route: Route,
        temperature: float | None,
        max_tokens: int | None,
        json_mode: bool,
        top_logprobs: int = 0,
        json_schema: dict[str, Any] | None = None,
    ) -> ChatRequest:
        config = llm_config()
        return ChatRequest(
            messages=[{"role": m["role"], "content": m["content"]} for m in messages],
            model=route.model,
            temperature=config.default_temperature if temperature is None else float(temperature),
            max_tokens=int(max_tokens or config.default_max_tokens),
            json_mode=json_mode,
            top_logprobs=top_logprobs,
            json_schema=json_schema,
        )

    def image_provider(self) -> OpenAIChatProvider | None:
        """The OpenAI provider for DALL-E, or None when no OpenAI key is set."""
        from .llm import openai_provider

        if not llm_config().openai_api_key:
            return None
        provider = self._provider("openai")
        # _build("openai", ...) always makes one; the check narrows ChatProvider to the provider with images.
        if not isinstance(provider, openai_provider.OpenAIChatProvider):
            raise TypeError(f"The openai provider is a {type(provider).__name__}, which makes no images")
        return provider

    def _provider(self, kind: str) -> ChatProvider:
        with self._lock:
            if kind == "local":
                return self._local_provider()
            config = llm_config()
            key = f"{kind}|{config.openai_api_key}|{config.openai_base_url}|{config.anthropic_api_key}|{config.anthropic_base_url}"
            provider = self._providers.get(key)
            if provider is None:
                provider = self._build(kind, config)
                self._providers[key] = provider
            return provider

    def _local_provider(self) -> ChatProvider:
        """One llama.cpp server per process: a changed model setting stops the old one first."""
        from .llm.local_provider import LocalChatProvider

        config = llm_config()
        key = f"local|{config.local_model}|{config.local_models_dir}"
        provider = self._providers.get(key)
        if provider is None:
            for stale in [k for k in self._providers if k.startswith("local|")]:
                old = self._providers.pop(stale)
                if isinstance(old, LocalChatProvider):  # "local|" keys hold only these; others have no close()
                    old.close()
            provider = self._providers[key] = LocalChatProvider()
        return provider

    @staticmethod
    def _build(kind: str, config: LlmConfig) -> ChatProvider:
        timeout = config.provider_timeout
        retries = config.provider_max_retries
        if kind == "anthropic":
            from .llm.anthropic_provider import AnthropicChatProvider

            return AnthropicChatProvider(
                api_key=config.anthropic_api_key,
                base_url=config.anthropic_base_url,
                timeout=timeout,
                max_retries=retries,
            )
        from .llm.openai_provider import OpenAIChatProvider

        return OpenAIChatProvider(
            api_key=config.openai_api_key,
            base_url=config.openai_base_url,
            timeout=timeout,
            max_retries=retries,
            name="OpenAI" if kind == "openai" else "OpenAI-compatible server",
        )


def _metrics_model(route: Route) -> str:
    """The model's name as a metric label: configured names only (a request may name anything)."""
    config = llm_config()
    configured = {
        config.default_model,
        config.openai_default_model,
        config.anthropic_default_model,
        local_models.model_name(),
    }
    return metrics.bounded(route.model, configured - {"", None})


def _record_usage(route: Route, label: str, usage: dict[str, int] | None) -> None:
    if usage:
        prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        metrics.record_tokens("llm", route.kind, label, prompt=prompt, completion=completion)


def _measured_stream(deltas: Iterator[ChatDelta], route: Route) -> Iterator[ChatDelta]:
    """The stream, timed from the first pull to its end (or to the client going away)."""
    label = _metrics_model(route)
    started = time.perf_counter()
    try:
        for delta in deltas:
            if delta.done:
                _record_usage(route, label, delta.usage)
            yield delta
    finally:
        # Closing this wrapper (the client went away) closes the provider's stream now, which stops
        # the generation, rather than whenever the garbage collector finalizes it.
        close = getattr(deltas, "close", None)
        if close is not None:
            close()
        if route.kind != "local":  # the local provider times its own run (see ``chat``)
            metrics.observe_model("llm", route.kind, label, time.perf_counter() - started)


@functools.cache
def get_instance() -> LLMService:
    return LLMService()
