from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from mlservice.api.views import ContractView
from mlservice.core.formatting import iso_now
from services import health_service

from .serializers import (
    HealthResponseSerializer,
    LiveResponseSerializer,
    ReadyResponseSerializer,
    ServiceIndexResponseSerializer,
)


class OpenProbeView(ContractView):
    """Probes answer without an API key and are never throttled (orchestrators call them often)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class HealthView(OpenProbeView):
    @extend_schema(responses=HealthResponseSerializer, summary="Service status and capabilities (always 200)")
    def get(self, request: Request) -> Response:
        return Response(health_service.get_instance().health())


class ReadyView(ContractView):
    @extend_schema(
        responses={200: ReadyResponseSerializer, 503: ReadyResponseSerializer},
        summary="Readiness: checks the database, cache and other dependencies; 503 when one is down",
    )
    def get(self, request: Request) -> Response:
        ready, body = health_service.get_instance().readiness()
        return Response(body, status=200 if ready else 503)


class LiveView(OpenProbeView):
    @extend_schema(responses=LiveResponseSerializer, summary="Liveness (no dependency checks)")
    def get(self, request: Request) -> Response:
        return Response({"live": True, "timestamp": iso_now()})


class ServiceIndexView(OpenProbeView):
    """``GET /``: what this service is and where its docs, probes and metrics are (open, like the probes)."""

    @extend_schema(responses=ServiceIndexResponseSerializer, summary="Service name, version and links")
    def get(self, request: Request) -> Response:
        return Response(
            {
                "name": "mlservice",
                "description": settings.SPECTACULAR_SETTINGS["TITLE"],
                "version": settings.SERVICE_VERSION,
                "links": {
                    "docs": reverse("swagger-ui"),
                    "redoc": reverse("redoc"),
                    "schema": reverse("schema"),
                    # The gateway paths (reverse() would pick the /api/v1/ copies of these names).
                    "health": "/health",
                    "ready": "/health/ready",
                    "live": "/health/live",
                    "metrics": "/metrics",
                    "openai": "/v1",
                },
            }
        )
