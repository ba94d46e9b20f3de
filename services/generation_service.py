"""Text, chat and image generation (contract 4.7) and OpenAI's ``chat.completion``: request in,
provider call, response body out, so the generation views only validate and return.

Views follow the guide's service pattern:

    service = GenerationService.get_instance()
    body = async_to_sync(service.generate_text)(prompt, system_prompt, model, temperature, max_tokens)
    body = async_to_sync(service.chat_completion)(messages, model, temperature, max_tokens)
    body = async_to_sync(service.generate_image)(prompt, size, quality, style)
    body = async_to_sync(service.openai_chat_completion)(messages, completion_id, created, ...)

Streams stay sync generators (the SSE response pulls them from the request thread):
``stream_text`` and ``stream_chat`` return a ``ChatStream`` (deltas + the closing ``done`` body);
``stream_deltas`` is the bare delta stream for OpenAI's chunk format (generation/openai_chunks.py).

The provider calls go through ``services.llm_service`` (one ``get_instance()`` per call, so its
resets reach this service too); nothing here touches the ORM, so the async methods run inline on
``async_to_sync``'s loop.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator
from typing import Any

from mlservice.core.errors import ServiceUnavailable
from services import llm_service
from services.llm.base import ChatDelta, ChatResult
from services.llm.config import llm_config
from services.llm_service import ChatStream, LLMService

__all__ = ["NO_IMAGE_PROVIDER", "GenerationService", "get_instance"]

NO_IMAGE_PROVIDER = "Image generation needs OPENAI_API_KEY (DALL-E 3 through OpenAI); no local image model is available"


class GenerationService:
    @classmethod
    def get_instance(cls) -> GenerationService:
        """The process-wide service (the guide's service pattern)."""
        return get_instance()

    @staticmethod
    def _llm() -> LLMService:
        return llm_service.get_instance()

    # --- /generation/text -------------------------------------------------------------------
    async def generate_text(
        self,
        prompt: str,
        system_prompt: str | None = None,
        model: str | None = None,
        temperature: float | None = None,  # None: DEFAULT_TEMPERATURE
        max_tokens: int | None = None,  # None: DEFAULT_MAX_TOKENS
    ) -> dict[str, Any]:
        started = time.perf_counter()
        result = await self._llm().complete(
            _text_messages(prompt, system_prompt), **_parameters(model, temperature, max_tokens)
        )
        return _text_body(result.content, result.model, result.usage, started)

    def stream_text(
        self,
        prompt: str,
        system_prompt: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatStream:
        """Resolves the provider now (configuration errors raise here, as plain JSON), then streams."""
        started = time.perf_counter()
        llm = self._llm()
        parameters = _parameters(model, temperature, max_tokens)
        deltas = llm.stream_chat(_text_messages(prompt, system_prompt), **parameters)

        def final(text: str, last: ChatDelta) -> dict[str, Any]:
            return _text_body(text, last.model or llm.resolve(parameters["model"]).model, last.usage, started)

        return ChatStream(deltas, final)

    # --- /chat/completions (the gateway's shape) --------------------------------------------
    async def chat_completion(
        self,
        messages: list[dict[str, str]],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> dict[str, Any]:
        result = await self._llm().complete(_chat_messages(messages), **_parameters(model, temperature, max_tokens))
        return _chat_body(result)

    def stream_chat(
        self,
        messages: list[dict[str, str]],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> ChatStream:
        llm = self._llm()
        parameters = _parameters(model, temperature, max_tokens)
        deltas = llm.stream_chat(_chat_messages(messages), **parameters)

        def final(text: str, last: ChatDelta) -> dict[str, Any]:
            answered = last.model or llm.resolve(parameters["model"]).model
            return _chat_body(ChatResult(text, answered, last.usage or {}, last.finish_reason))

        return ChatStream(deltas, final)

    # --- /generation/image ------------------------------------------------------------------
    async def generate_image(self, prompt: str, size: str, quality: str, style: str) -> dict[str, Any]:
        started = time.perf_counter()
        provider = self._llm().image_provider()
        if provider is None:
            raise ServiceUnavailable(NO_IMAGE_PROVIDER)
        image = provider.generate_image(
            prompt=prompt, model=llm_config().image_model, size=size, quality=quality, style=style
        )
        body: dict[str, Any] = {"success": True, "id": str(uuid.uuid4()), "image_url": image["url"]}
        if image.get("revised_prompt"):
            body["revised_prompt"] = image["revised_prompt"]
        body.update({"size": size, "processing_time_ms": _elapsed_ms(started)})
        return body

    # --- POST /v1/chat/completions (OpenAI's shape) -----------------------------------------
    async def openai_chat_completion(
        self,
        messages: list[dict[str, str]],
        completion_id: str,
        created: int,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_mode: bool = False,
    ) -> dict[str, Any]:
        """A ``chat.completion`` object; ``messages`` are already in the providers' roles."""
        result = await self._llm().complete(
            messages, model=model, temperature=temperature, max_tokens=max_tokens, json_mode=json_mode
        )
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": result.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": result.finish_reason or "stop",
                }
            ],
            "usage": result.usage,
            "system_fingerprint": None,
        }

    def stream_deltas(
        self,
        messages: list[dict[str, str]],
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        json_mode: bool = False,
    ) -> Iterator[ChatDelta]:
        """The bare delta stream, for callers that write their own wire format (OpenAI's chunks)."""
        return self._llm().stream_chat(
            messages, model=model, temperature=temperature, max_tokens=max_tokens, json_mode=json_mode
        )

    def default_model(self) -> str:
        """The model a request that names none is served by (raises 503 when none is configured)."""
        return self._llm().resolve(None).model


def _parameters(model: str | None, temperature: float | None, max_tokens: int | None) -> dict[str, Any]:
    """What the request gave; None lets the LLM service apply DEFAULT_LLM_MODEL/TEMPERATURE/MAX_TOKENS."""
    return {
        "model": model,
        "temperature": temperature,
        "max_tokens": int(max_tokens) if max_tokens is not None else None,
    }


def _text_messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*messages, {"role": "user", "content": prompt}]


def _chat_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _text_body(content: str, model: str, usage: dict[str, int] | None, started: float) -> dict[str, Any]:
    return {
        "success": True,
        "id": str(uuid.uuid4()),
        "content": content,
        "model": model,
        "tokens_used": (usage or {}).get("total_tokens", 0),
        "processing_time_ms": _elapsed_ms(started),
    }


def _chat_body(result: ChatResult) -> dict[str, Any]:
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": result.content}}
    if result.finish_reason:
        choice["finish_reason"] = result.finish_reason
    usage = {key: int(result.usage.get(key, 0)) for key in ("prompt_tokens", "completion_tokens", "total_tokens")}
    return {
        "success": True,
        "id": str(uuid.uuid4()),
        "choices": [choice],
        "content": result.content,
        "usage": usage,
        "model": result.model,
    }


@functools.cache
def get_instance() -> GenerationService:
    # Stateless (it asks llm_service for its instance on every call), so nothing to reset here.
    return GenerationService()
