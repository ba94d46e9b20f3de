"""/generation/* and /chat/completions (contract 4.7): thin views over services.llm_service."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mlservice.api.views import ContractView
from mlservice.core.errors import ServiceUnavailable
from services import llm_service
from services.llm.base import ChatDelta, ChatResult

from . import serializers as s
from .streaming import stream_response

ERRORS = {
    400: OpenApiResponse(description="Validation error"),
    502: OpenApiResponse(description="The provider answered with an error"),
    503: OpenApiResponse(description="No provider configured, credentials rejected or rate limited"),
}
NO_IMAGE_PROVIDER = "Image generation needs OPENAI_API_KEY (DALL-E 3 through OpenAI); no local image model is available"


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


class TextGenerationView(ContractView):
    request_serializer = s.GenerationTextGenerationRequestSerializer

    @extend_schema(
        request=s.GenerationTextGenerationRequestSerializer,
        responses={201: s.GenerationTextGenerationResponseSerializer, **ERRORS},
        description="With `stream: true` the answer is Server-Sent Events (`delta` events, then `done`).",
    )
    def post(self, request: Request) -> Any:
        started = time.perf_counter()
        data = self.validated(request)
        messages = []
        if data.get("system_prompt"):
            messages.append({"role": "system", "content": data["system_prompt"]})
        messages.append({"role": "user", "content": data["prompt"]})
        kwargs = _llm_parameters(data)
        llm = llm_service.get_instance()
        if data["stream"]:

            def final(text: str, last: ChatDelta) -> dict[str, Any]:
                return _text_body(text, last.model or llm.resolve(kwargs["model"]).model, last.usage, started)

            return stream_response(llm.stream_chat(messages, **kwargs), final)
        result = llm.chat(messages, **kwargs)
        return self.created(_text_body(result.content, result.model, result.usage, started))


def _llm_parameters(data: dict[str, Any]) -> dict[str, Any]:
    """What the request gave; None lets the LLM service apply DEFAULT_LLM_MODEL/TEMPERATURE/MAX_TOKENS."""
    max_tokens = data.get("max_tokens")
    return {
        "model": data.get("model"),
        "temperature": data.get("temperature"),
        "max_tokens": int(max_tokens) if max_tokens is not None else None,
    }


def _text_body(content: str, model: str, usage: dict[str, int] | None, started: float) -> dict[str, Any]:
    return {
        "success": True,
        "id": str(uuid.uuid4()),
        "content": content,
        "model": model,
        "tokens_used": (usage or {}).get("total_tokens", 0),
        "processing_time_ms": _elapsed_ms(started),
    }


class ImageGenerationView(ContractView):
    request_serializer = s.GenerationImageGenerationRequestSerializer

    @extend_schema(
        request=s.GenerationImageGenerationRequestSerializer,
        responses={201: s.GenerationImageGenerationResponseSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        started = time.perf_counter()
        data = self.validated(request)
        provider = llm_service.get_instance().image_provider()
        if provider is None:
            raise ServiceUnavailable(NO_IMAGE_PROVIDER)
        image = provider.generate_image(
            prompt=data["prompt"],
            model=settings.IMAGE_MODEL,
            size=data["size"],
            quality=data["quality"],
            style=data["style"],
        )
        body: dict[str, Any] = {"success": True, "id": str(uuid.uuid4()), "image_url": image["url"]}
        if image.get("revised_prompt"):
            body["revised_prompt"] = image["revised_prompt"]
        body.update({"size": data["size"], "processing_time_ms": _elapsed_ms(started)})
        return self.created(body)


class ModelsView(APIView):
    @extend_schema(responses=s.GenerationModelsResponseSerializer, summary="Models offered by /generation/*")
    def get(self, request: Request) -> Response:
        return Response({"success": True, "models": {"text": s.TEXT_MODELS, "image": s.IMAGE_MODELS}})


class ChatCompletionsView(ContractView):
    request_serializer = s.GenerationChatRequestSerializer

    @extend_schema(
        request=s.GenerationChatRequestSerializer,
        responses={201: s.GenerationChatResponseSerializer, **ERRORS},
        description="The gateway's chat call. With `stream: true` the answer is Server-Sent Events.",
    )
    def post(self, request: Request) -> Any:
        data = self.validated(request)
        messages = [{"role": m["role"], "content": m["content"]} for m in data["messages"]]
        kwargs = _llm_parameters(data)
        llm = llm_service.get_instance()
        if data.get("stream") is True:

            def final(text: str, last: ChatDelta) -> dict[str, Any]:
                model = last.model or llm.resolve(kwargs["model"]).model
                result = ChatResult(text, model, last.usage or {}, last.finish_reason)
                return _chat_body(result)

            return stream_response(llm.stream_chat(messages, **kwargs), final)
        return self.created(_chat_body(llm.chat(messages, **kwargs)))


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
