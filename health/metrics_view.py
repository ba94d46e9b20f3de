from collections.abc import Callable

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.request import Request

from mlservice import metrics
from mlservice.api.views import ContractView

_GAUGE_REFRESHERS: list[Callable[[], None]] = []


def register_gauge_refresher(refresh: Callable[[], None]) -> None:
    """Areas add callables that update gauges (e.g. job queue depth) just before a scrape."""
    _GAUGE_REFRESHERS.append(refresh)


class MetricsView(ContractView):
    """Prometheus exposition (text format, not JSON)."""

    @extend_schema(responses={(200, "text/plain"): OpenApiTypes.STR}, summary="Prometheus metrics")
    def get(self, request: Request) -> HttpResponse:
        for refresh in _GAUGE_REFRESHERS:
            refresh()
        return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)
