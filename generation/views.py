"""/generation/* and /chat/completions (contract 4.7): thin views over services.generation_service
(the guide's pattern: validate, ``async_to_sync(service.method)(...)``, return; streams stay sync)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mlservice.api.chat_stream import stream_response
from mlservice.api.views import ContractView
from services.generation_service import GenerationService

from . import serializers as s

ERRORS = {
    400: OpenApiResponse(s.GenerationErrorSerializer, description="Validation error"),
    502: OpenApiResponse(s.GenerationErrorSerializer, description="The provider answered with an error"),
    503: OpenApiResponse(
        s.GenerationErrorSerializer, description="No provider configured, credentials rejected or rate limited"
    ),
}

# With `stream: true` the same status answers Server-Sent Events (mlservice/api/chat_stream.py); under
# /api/v1/ ServiceAutoSchema documents both as the 200 they are there.
STREAM = OpenApiResponse(
    response={"type": "string"},
    description="stream: true: `delta` events ({content}), a `done` event (the whole answer), then `data: [DONE]`",
)


class TextGenerationView(ContractView):
    request_serializer = s.GenerationTextGenerationRequestSerializer

    @extend_schema(
        request=s.GenerationTextGenerationRequestSerializer,
        responses={201: s.GenerationTextGenerationResponseSerializer, (201, "text/event-stream"): STREAM, **ERRORS},
        description="With `stream: true` the answer is Server-Sent Events (`delta` events, then `done`).",
    )
    def post(self, request: Request) -> Any:
        data = self.validated(request)
        service = GenerationService.get_instance()
        args = (
            data["prompt"],
            data.get("system_prompt"),
            data.get("model"),
            data.get("temperature"),
            data.get("max_tokens"),
        )
        if data["stream"]:
            return stream_response(service.stream_text(*args))
        return self.created(async_to_sync(service.generate_text)(*args))


class ImageGenerationView(ContractView):
    request_serializer = s.GenerationImageGenerationRequestSerializer

    @extend_schema(
        request=s.GenerationImageGenerationRequestSerializer,
        responses={201: s.GenerationImageGenerationResponseSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        service = GenerationService.get_instance()
        body = async_to_sync(service.generate_image)(data["prompt"], data["size"], data["quality"], data["style"])
        return self.created(body)


class ModelsView(ContractView):
    @extend_schema(responses=s.GenerationModelsResponseSerializer, summary="Models offered by /generation/*")
    def get(self, request: Request) -> Response:
        return Response({"success": True, "models": {"text": s.TEXT_MODELS, "image": s.IMAGE_MODELS}})


class ChatCompletionsView(ContractView):
    request_serializer = s.GenerationChatRequestSerializer

    @extend_schema(
        request=s.GenerationChatRequestSerializer,
        responses={201: s.GenerationChatResponseSerializer, (201, "text/event-stream"): STREAM, **ERRORS},
        description="The gateway's chat call. With `stream: true` the answer is Server-Sent Events.",
    )
    def post(self, request: Request) -> Any:
        data = self.validated(request)
        service = GenerationService.get_instance()
        args = (data["messages"], data.get("model"), data.get("temperature"), data.get("max_tokens"))
        if data.get("stream") is True:
            return stream_response(service.stream_chat(*args))
        return self.created(async_to_sync(service.chat_completion)(*args))
