"""OpenAI and OpenAI-compatible servers (Ollama, vLLM, llama.cpp server) through the official SDK.

The SDK does the retrying (exponential backoff with jitter on 408/409/429/5xx and connection
errors, ``PROVIDER_MAX_RETRIES`` times) and the timeout (``PROVIDER_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

import openai

from mlservice.core.errors import BadRequest, ServiceError
from mlservice.core.provider_errors import map_provider_error

from .base import ChatDelta, ChatRequest, ChatResult, make_usage

# Reasoning models (o1, o3, o4-mini, gpt-5...) reject `max_tokens` and any temperature but 1.
_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")
# The image options the API accepts (the serializer offers the same choices), as the SDK's literals.
_IMAGE_QUALITIES: dict[str, Literal["standard", "hd"]] = {"standard": "standard", "hd": "hd"}
_IMAGE_STYLES: dict[str, Literal["vivid", "natural"]] = {"vivid": "vivid", "natural": "natural"}


class OpenAIChatProvider:
    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        name: str = "OpenAI",
    ) -> None:
        self.name = name
        self.key_setting = "OPENAI_API_KEY"
        self.url_setting = "OPENAI_BASE_URL"
        # Local OpenAI-compatible servers usually need no key, but the SDK insists on one.
        self.client = openai.OpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url or None,
            timeout=timeout,
            max_retries=max_retries,
        )

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": request.model, "messages": request.messages}
        if _REASONING_MODEL.match(request.model):
            params["max_completion_tokens"] = request.max_tokens
        else:
            params["max_tokens"] = request.max_tokens
            params["temperature"] = request.temperature
        if request.json_mode:
            params["response_format"] = {"type": "json_object"}
        return params

    def chat(self, request: ChatRequest) -> ChatResult:
        try:
            response = self.client.chat.completions.create(**self._params(request))
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        if not response.choices:
            raise self._error(ValueError("the answer had no choices"))
        choice = response.choices[0]
        usage = response.usage
        return ChatResult(
            content=choice.message.content or "",
            model=response.model or request.model,
            usage=make_usage(usage and usage.prompt_tokens, usage and usage.completion_tokens),
            finish_reason=choice.finish_reason,
        )

    def stream_chat(self, request: ChatRequest) -> Iterator[ChatDelta]:
        params = self._params(request)
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
        try:
            model, finish_reason, usage = request.model, None, None
            # `with`: closing this generator (the client went away) closes the HTTP stream, which
            # stops the upstream generation; the SDK's Stream is in a reference cycle, so the
            # garbage collector alone would close it much later.
            with self.client.chat.completions.create(**params) as stream:
                for chunk in stream:
                    model = chunk.model or model
                    if chunk.usage is not None:
                        usage = make_usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
                        if choice.delta and choice.delta.content:
                            yield ChatDelta(content=choice.delta.content)
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        yield ChatDelta(usage=usage or make_usage(0, 0), finish_reason=finish_reason, model=model, done=True)

    def generate_image(self, *, prompt: str, model: str, size: str, quality: str, style: str) -> dict[str, Any]:
        if quality not in _IMAGE_QUALITIES or style not in _IMAGE_STYLES:
            raise BadRequest(f"Unsupported image quality {quality!r} or style {style!r}")
        try:
            response = self.client.images.generate(
                model=model,
                prompt=prompt,
                size=size,
                quality=_IMAGE_QUALITIES[quality],
                style=_IMAGE_STYLES[style],
                n=1,
            )
        except openai.OpenAIError as exc:
            raise self._error(exc) from exc
        image = response.data[0] if response.data else None
        return {
            "url": (image and image.url) or "",
            "revised_prompt": image and image.revised_prompt,
        }

    def _error(self, exc: Exception) -> ServiceError:
        return map_provider_error(exc, self.name, "generation", self.key_setting, self.url_setting)
