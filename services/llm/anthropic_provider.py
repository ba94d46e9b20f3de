"""Anthropic (Claude) through the official SDK; ``ANTHROPIC_BASE_URL`` points it elsewhere (tests).

Anthropic takes the system prompt as a separate field and has no JSON mode, so JSON requests add
an instruction to the system prompt; the caller validates the answer either way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic

from mlservice.core.errors import ServiceError
from mlservice.core.provider_errors import map_provider_error

from .base import ChatDelta, ChatRequest, ChatResult, make_usage

_JSON_INSTRUCTION = "Answer with one JSON object only, with no prose and no code fences."

# Anthropic's stop reasons, in OpenAI's words, so every provider reports the same values.
_FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


class AnthropicChatProvider:
    name = "Anthropic"

    def __init__(self, *, api_key: str, base_url: str | None, timeout: float, max_retries: int) -> None:
        self.client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=max_retries
        )

    @staticmethod
    def _params(request: ChatRequest) -> dict[str, Any]:
        system_parts = [m["content"] for m in request.messages if m["role"] == "system"]
        if request.json_mode:
            system_parts.append(_JSON_INSTRUCTION)
        messages = [{"role": m["role"], "content": m["content"]} for m in request.messages if m["role"] != "system"]
        if not messages:
            # Anthropic requires at least one user turn; a system-only prompt becomes the user turn.
            messages = [{"role": "user", "content": "\n\n".join(system_parts) or "Hello"}]
            system_parts = []
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            # No temperature: the pinned SDK (and current Claude models) no longer take sampling
            # parameters, so the request's temperature is not forwarded to Anthropic.
            "max_tokens": request.max_tokens,
        }
        if system_parts:
            params["system"] = "\n\n".join(system_parts)
        return params

    def chat(self, request: ChatRequest) -> ChatResult:
        try:
            message = self.client.messages.create(**self._params(request))
        except anthropic.AnthropicError as exc:
            raise _error(exc) from exc
        text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
        return ChatResult(
            content=text,
            model=message.model or request.model,
            usage=make_usage(message.usage.input_tokens, message.usage.output_tokens),
            finish_reason=_FINISH_REASONS.get(message.stop_reason or "", message.stop_reason),
        )

    def stream_chat(self, request: ChatRequest) -> Iterator[ChatDelta]:
        params = self._params(request)
        params["stream"] = True
        model, prompt_tokens, completion_tokens, stop_reason = request.model, 0, 0, None
        try:
            # `with`: closing this generator (the client went away) closes the HTTP stream now.
            with self.client.messages.create(**params) as events:
                for event in events:
                    if event.type == "message_start":
                        model = event.message.model or model
                        prompt_tokens = event.message.usage.input_tokens or 0
                        completion_tokens = event.message.usage.output_tokens or 0
                    elif event.type == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
                        if event.delta.text:
                            yield ChatDelta(content=event.delta.text)
                    elif event.type == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                        if event.usage and event.usage.output_tokens is not None:
                            completion_tokens = event.usage.output_tokens
        except anthropic.AnthropicError as exc:
            raise _error(exc) from exc
        yield ChatDelta(
            usage=make_usage(prompt_tokens, completion_tokens),
            finish_reason=_FINISH_REASONS.get(stop_reason or "", stop_reason),
            model=model,
            done=True,
        )


def _error(exc: Exception) -> ServiceError:
    return map_provider_error(exc, "Anthropic", "generation", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
