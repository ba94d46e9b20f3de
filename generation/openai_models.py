"""``GET /v1/models`` and ``GET /v1/models/{id}`` in OpenAI's wire format.

The list is ``services.model_catalog``: what this instance can serve now (local models that are
installed, configured providers' models). Errors, an unknown id's 404 included, are OpenAI's
envelope (the /v1 exception handler).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from embeddings.serializers import OpenAIErrorSerializer
from mlservice.api.views import OpenAIView
from mlservice.core.errors import NotFoundError
from services import model_catalog

from .serializers import TEXT_MODELS

# The OpenAI chat models /generation/models advertises, listed here when OPENAI_API_KEY is set.
_OPENAI_CHAT_MODELS = tuple(model["id"] for model in TEXT_MODELS)


class OpenAIModelSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The name to send as `model`")
    object = serializers.ChoiceField(["model"])
    created = serializers.IntegerField(help_text="Unix time (for local models: when this process started)")
    owned_by = serializers.CharField(help_text="local, openai, anthropic or openai-compatible")


class OpenAIModelListSerializer(serializers.Serializer):
    object = serializers.ChoiceField(["list"])
    data = OpenAIModelSerializer(many=True)


class OpenAIModelsView(OpenAIView):
    @extend_schema(
        operation_id="v1_models_list",
        responses={200: OpenAIModelListSerializer},
        summary="OpenAI-compatible model list: every chat, embedding and transcription model this instance serves",
    )
    def get(self, request: Request) -> Response:
        models = model_catalog.available_models(_OPENAI_CHAT_MODELS)
        return Response({"object": "list", "data": [model.as_openai() for model in models]})


class OpenAIModelView(OpenAIView):
    @extend_schema(
        operation_id="v1_models_retrieve",
        responses={200: OpenAIModelSerializer, 404: OpenApiResponse(OpenAIErrorSerializer, description="Unknown id")},
        summary="OpenAI-compatible model lookup",
    )
    def get(self, request: Request, model_id: str) -> Response:
        model = model_catalog.find_model(model_id, _OPENAI_CHAT_MODELS)
        if model is None:
            raise NotFoundError(f"The model '{model_id}' does not exist", param="model")
        return Response(model.as_openai())
