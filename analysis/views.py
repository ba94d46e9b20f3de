"""/analysis/* (contract 4.4): thin views over services.analysis_service."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from generation.streaming import stream_response
from mlservice.api.views import ContractView
from services import analysis_service

from . import serializers as s

ERRORS = {
    400: OpenApiResponse(description="Validation error (blank text, bad field)"),
    502: OpenApiResponse(description="The language model failed or answered with invalid JSON twice"),
    503: OpenApiResponse(description="The configured language model is not usable"),
}


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
        body = analysis_service.get_instance().summarize(
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
        body = analysis_service.get_instance().sentiment(
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
        body = analysis_service.get_instance().keywords(
            data["text"], int(data["max_keywords"]), data.get("model"), data.get("method")
        )
        return self.created(_ok(body))


class GenerateView(ContractView):
    request_serializer = s.AnalysisGenerateRequestSerializer

    @extend_schema(
        request=s.AnalysisGenerateRequestSerializer,
        responses={201: s.AnalysisGenerateResponseSerializer, **ERRORS},
        description="With `stream: true` the answer is Server-Sent Events (`delta` events, then `done`).",
    )
    def post(self, request: Request) -> Any:
        data = self.validated(request)
        service = analysis_service.get_instance()
        max_tokens = int(data["max_tokens"]) if data.get("max_tokens") is not None else None
        args = (data["prompt"], data.get("context"), data.get("model"), max_tokens, data.get("temperature"))
        if data["stream"]:
            requested = data.get("model")

            def final(text: str, last: Any) -> dict[str, Any]:
                usage = last.usage or {}
                return _ok(
                    {
                        "content": text,
                        "model": requested or last.model,
                        "tokensUsed": usage.get("total_tokens", 0),
                        "method": f"llm:{last.model}",
                    }
                )

            return stream_response(service.stream_generate(*args), final)
        return self.created(_ok(service.generate(*args)))


class ClassifyView(ContractView):
    request_serializer = s.AnalysisClassifyRequestSerializer

    @extend_schema(
        request=s.AnalysisClassifyRequestSerializer, responses={201: s.AnalysisClassifyResponseSerializer, **ERRORS}
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        body = analysis_service.get_instance().classify(
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
        body = analysis_service.get_instance().analyze(
            data["text"], data.get("analyses"), data.get("model"), data.get("method")
        )
        return self.created(_ok(body))
