"""The schema and API-docs views (/api/v1/schema/, /api/v1/redoc/).

Not in schema.py: importing drf_spectacular.views resolves DEFAULT_SCHEMA_CLASS, which lives there.
"""

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView


class SchemaView(SpectacularAPIView):
    """OpenAPI 3 schema of this API: JSON by default, YAML with ``?format=yaml`` or an
    ``Accept: application/vnd.oai.openapi`` (or ``application/yaml``) header."""

    # DRF picks the first renderer that matches the Accept header (*/* matches the first one).
    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2]


class RedocView(SpectacularRedocView):
    # drf-spectacular's page links web fonts from a CDN; this one renders with local fonts only.
    template_name = "mlservice/redoc.html"
