"""/analysis/* (contract 4.4): thin views over services.analysis_service (the guide's pattern:
validate, ``async_to_sync(service.method)(...)``, return; the streamed generate stays sync)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from asgiref.sync import async_to_sync
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mlservice.api.chat_stream import stream_response
from mlservice.api.views import ContractView
from services.analysis_service import AnalysisService

from . import serializers as s

ERRORS = {
    400: OpenApiResponse(description="Validation error (blank text, bad field)"),
    502: OpenApiResponse(description="The language model failed or answered with invalid JSON twice"),
    503: OpenApiResponse(description="The configured language model is not usable"),
}

# With `stream: true` the same status answers Server-Sent Events (mlservice/api/chat_stream.py); under
# /api/v1/ ServiceAutoSchema documents both as the 200 they are there.
STREAM = OpenApiResponse(
    response={"type": "string"},
    description="stream: true: `delta` events ({content}), a `done` event (the whole answer), then `data: [DONE]`",
)


def _ok(body: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, **body}


class SummarizeView(ContractView):
    request_serializer = s.AnalysisSummarizeRequestSerializer

    @extend_schema(
        request=s.AnalysisSummarizeRequestSerializer, responses={201: s.AnalysisSummaryResponseSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        max_length = data.get("max_length")
        service = AnalysisService.get_instance()
        body = async_to_sync(service.summarize_text)(
            data["text"], int(max_length) if max_length is not None else None, data.get("model"), data.get("method")
        )
        return self.created(_ok(body))


class SentimentView(ContractView):
    request_serializer = s.AnalysisSentimentRequestSerializer

    @extend_schema(
        request=s.AnalysisSentimentRequestSerializer, responses={201: s.AnalysisSentimentResponseSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        service = AnalysisService.get_instance()
        body = async_to_sync(service.analyze_sentiment)(
            data["text"], data["include_aspects"], data.get("model"), data.get("method")
        )
        return self.created(_ok(body))


class KeywordsView(ContractView):
    request_serializer = s.AnalysisKeywordsRequestSerializer

    @extend_schema(
        request=s.AnalysisKeywordsRequestSerializer, responses={201: s.AnalysisKeywordsResponseSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        service = AnalysisService.get_instance()
        body = async_to_sync(service.extract_keywords)(
            data["text"], int(data["max_keywords"]), data.get("model"), data.get("method")
        )
        return self.created(_ok(body))


class GenerateView(ContractView):
    request_serializer = s.AnalysisGenerateRequestSerializer

    @extend_schema(
        request=s.AnalysisGenerateRequestSerializer,
        responses={201: s.AnalysisGenerateResponseSerializer, (201, "text/event-stream"): STREAM, **ERRORS},
        description="With `stream: true` the answer is Server-Sent Events (`delta` events, then `done`).",
    )
    def post(self, request: Request) -> Any:
        data = self.validated(request)
        service = AnalysisService.get_instance()
        max_tokens = int(data["max_tokens"]) if data.get("max_tokens") is not None else None
        args = (data["prompt"], data.get("context"), data.get("model"), max_tokens, data.get("temperature"))
        if data["stream"]:
            stream = service.stream_generate(*args)
            # The done event carries the same body as the non-streaming answer, envelope included.
            return stream_response(replace(stream, final_body=lambda text, last: _ok(stream.final_body(text, last))))
        return self.created(_ok(async_to_sync(service.generate_text)(*args)))


class ClassifyView(ContractView):
    request_serializer = s.AnalysisClassifyRequestSerializer

    @extend_schema(
        request=s.AnalysisClassifyRequestSerializer, responses={201: s.AnalysisClassifyResponseSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        service = AnalysisService.get_instance()
        body = async_to_sync(service.classify_text)(
            data["text"], data["categories"], data["multi_label"], data.get("model"), data.get("method")
        )
        return self.created(_ok(body))


class TextView(ContractView):
    request_serializer = s.AnalysisTextRequestSerializer

    @extend_schema(
        request=s.AnalysisTextRequestSerializer,
        responses={201: s.AnalysisTextResponseSerializer, **ERRORS},
        summary="Several analyses at once (alias: analysis/analyze)",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        service = AnalysisService.get_instance()
        body = async_to_sync(service.analyze_text)(
            data["text"], data.get("analyses"), data.get("model"), data.get("method")
        )
        return self.created(_ok(body))
