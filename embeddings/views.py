"""Embeddings endpoints: thin views over ``services.embedding_service`` (contract 4.2), plus
``POST /v1/embeddings`` in OpenAI's wire format so OpenAI SDKs can point at this service."""

from __future__ import annotations

import base64

import numpy as np
from asgiref.sync import async_to_sync
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mlservice.api.views import ContractView
from mlservice.core.errors import BadRequest
from services import embedding_service
from services.embedding_service import EmbeddingService

from . import serializers as s

EMPTY_BATCH_MESSAGE = "Cannot generate embeddings for empty texts"


class GenerateView(ContractView):
    request_serializer = s.GenerateRequestSerializer

    @extend_schema(
        request=s.GenerateRequestSerializer,
        responses={201: s.GenerateResponseSerializer},
        summary="Embed one text",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        # The guide's service pattern (and its example test, which patches EmbeddingService here).
        service = EmbeddingService.get_instance()
        embedding = async_to_sync(service.generate_embedding)(data["text"].strip(), data.get("model"))
        model = embedding_service.get_instance().resolve_model(data.get("model"))
        return self.created({"success": True, "embedding": embedding, "model": model, "dimensions": len(embedding)})


class BatchView(ContractView):
    request_serializer = s.BatchRequestSerializer

    @extend_schema(
        request=s.BatchRequestSerializer,
        responses={201: s.BatchResponseSerializer},
        summary="Embed up to 100 texts (blank texts are dropped, so indices may shift)",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        texts = [text.strip() for text in data["texts"] if text.strip()]
        if data["texts"] and not texts:
            raise BadRequest(EMPTY_BATCH_MESSAGE)
        result = embedding_service.get_instance().embed(texts, data.get("model"))
        return self.created(
            {
                "success": True,
                "embeddings": result.vectors,
                "model": result.model,
                "dimensions": result.dimensions,
                "count": len(texts),
            }
        )


class SimilarityView(ContractView):
    request_serializer = s.SimilarityRequestSerializer

    @extend_schema(
        request=s.SimilarityRequestSerializer,
        responses={201: s.SimilarityResponseSerializer},
        summary="Cosine similarity of two texts (raw, in [-1, 1])",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        result = embedding_service.get_instance().embed(
            [data["text1"].strip(), data["text2"].strip()], data.get("model")
        )
        return self.created({"success": True, "similarity": _cosine(*result.vectors), "model": result.model})


class ModelsView(ContractView):
    @extend_schema(responses=s.ModelsResponseSerializer, summary="Embedding models available now")
    def get(self, request: Request) -> Response:
        service = embedding_service.get_instance()
        return Response(
            {
                "success": True,
                "models": [info.as_contract() for info in service.models()],
                "default": service.default_model_name(),
            }
        )


class OpenAIEmbeddingsView(ContractView):
    """OpenAI's ``POST /v1/embeddings``: 200, ``{object: "list", data, model, usage}``. Errors are
    OpenAI's envelope (``{"error": {"message", "type", "param", "code"}}``, the /v1 exception
    handler), so OpenAI clients surface our messages as they would OpenAI's."""

    request_serializer = s.OpenAIEmbeddingsRequestSerializer

    @extend_schema(
        request=s.OpenAIEmbeddingsRequestSerializer,
        responses={200: s.OpenAIEmbeddingsResponseSerializer, 400: s.OpenAIErrorSerializer},
        summary="OpenAI-compatible embeddings (string or list input, float or base64)",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        result = embedding_service.get_instance().embed(
            data["input"]["texts"], data.get("model"), dimensions=data.get("dimensions")
        )
        encode = _base64 if data.get("encoding_format") == "base64" else _floats
        return Response(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": index, "embedding": encode(vector)}
                    for index, vector in enumerate(result.vectors)
                ],
                "model": result.model,
                "usage": {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens},
            }
        )


def _floats(vector: np.ndarray) -> np.ndarray:
    return vector


def _base64(vector: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _cosine(first: np.ndarray, second: np.ndarray) -> float:
    norms = float(np.linalg.norm(first) * np.linalg.norm(second))
    if norms == 0.0:
        return 0.0
    # Float noise can put identical texts at 1.0000001; keep the value inside [-1, 1].
    return max(-1.0, min(1.0, float(np.dot(first.astype(np.float64), second.astype(np.float64)) / norms)))
