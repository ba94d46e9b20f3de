"""Complexity endpoints. Responses carry the TS camelCase keys plus the snake_case keys the
gateway reads (contract 9.3)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from mlservice.api.views import ContractView
from mlservice.core.formatting import iso_now, js_number
from services.complexity_service import ComplexityService

from . import serializers as s

# These views call the service's sync methods, not its async ones through async_to_sync as the
# other areas do: scoring takes microseconds, and even on the API thread's persistent loop
# (mlservice/serving.py) an async_to_sync round trip costs 0.24-0.27 ms of CPU, about 40% more on
# an estimate (0.6 ms a request in all) on the gateway's hottest route. The async methods are
# there for async callers.


class EstimateView(ContractView):
    request_serializer = s.EstimateRequestSerializer

    @extend_schema(
        request=s.EstimateRequestSerializer,
        responses={201: s.EstimateResponseSerializer},
        summary="Pre-estimate a task's complexity (alias: pre-estimate)",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        result = ComplexityService.get_instance().estimate(
            title=data["title"],
            description=data.get("description"),
            issue_type=data.get("issue_type", "task"),
            related_files=data.get("related_files"),
        )
        return self.created(_with_snake_estimate(result))


class AnalyzeView(ContractView):
    request_serializer = s.AnalyzeRequestSerializer

    @extend_schema(
        request=s.AnalyzeRequestSerializer,
        responses={201: s.AnalyzeResponseSerializer},
        summary="Analyse a completed task (alias: post-analyze)",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        result = ComplexityService.get_instance().analyze(
            lines_added=data.get("lines_added", 0),
            lines_removed=data.get("lines_removed", 0),
            files_changed=data.get("files_changed", 0),
            commits=data.get("commits", 1),
            time_to_merge_hours=data.get("time_to_merge_hours"),
            review_comments=data.get("review_comments", 0),
            pre_complexity_score=data.get("pre_complexity_score"),
        )
        return self.created(_with_snake_analysis(result))


class AdjustmentView(ContractView):
    request_serializer = s.AdjustmentRequestSerializer

    @extend_schema(
        request=s.AdjustmentRequestSerializer,
        responses={201: s.AdjustmentResponseSerializer},
        summary="Point adjustment for a pre/actual level pair (alias: calculate-adjustment)",
    )
    def post(self, request: Request) -> Response:
        data = self.validated(request)
        adjustment = ComplexityService.get_instance().adjustment(data["pre_level"], data["actual_level"])
        return self.created(
            {
                "multiplier": js_number(adjustment.multiplier),
                "bonusPercent": adjustment.bonus_percent,
                "reason": adjustment.reason,
            }
        )


class ScaleView(ContractView):
    @extend_schema(responses=s.ScaleResponseSerializer, summary="The five complexity levels")
    def get(self, request: Request) -> Response:
        return Response({"scale": ComplexityService.get_instance().scale()})


class ComplexityHealthView(ContractView):
    @extend_schema(responses=s.ComplexityHealthSerializer, summary="Complexity service health")
    def get(self, request: Request) -> Response:
        return Response({"status": "ok", "service": "complexity-estimation", "timestamp": iso_now()})


def _with_snake_estimate(result: dict[str, Any]) -> dict[str, Any]:
    return {
        **result,
        "complexity_score": result["complexityScore"],
        "complexity_name": result["complexityName"],
        "estimated_hours": result["estimatedHours"],
        "estimated_points": result["estimatedPoints"],
    }


def _with_snake_analysis(result: dict[str, Any]) -> dict[str, Any]:
    return {
        **result,
        "actual_complexity": result["actualComplexity"],
        "complexity_name": result["complexityName"],
        "actual_points": result["actualPoints"],
        "accuracy_score": result.get("accuracyScore"),
        "point_adjustment": result["pointAdjustment"],
        "adjustment_reason": result["adjustmentReason"],
    }
