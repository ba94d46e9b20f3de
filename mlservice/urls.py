"""Every area answers at its TS path (no prefix) and again under /api/v1/ (contract 9.1)."""

from collections.abc import Callable
from importlib import import_module

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from mlservice.api.docs_views import RedocView, SchemaView

AREAS = ["health", "complexity", "embeddings", "rag", "analysis", "generation", "transcription", "rerank"]
# Routes starting with "v1/" speak OpenAI's wire format for OpenAI SDKs (base_url=http://host/v1);
# they are served once, at the root, never as /api/v1/v1/....
_OPENAI_PREFIX = "v1/"
_all_patterns = [pattern for area in AREAS for pattern in import_module(f"{area}.urls").urlpatterns]
area_patterns = [p for p in _all_patterns if not str(p.pattern).startswith(_OPENAI_PREFIX)]
openai_patterns = [p for p in _all_patterns if str(p.pattern).startswith(_OPENAI_PREFIX)]


def _docs(view: Callable) -> Callable:
    # In production the API docs sit behind the admin login (DOCS_REQUIRE_LOGIN).
    return staff_member_required(view) if settings.DOCS_REQUIRE_LOGIN else view


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/schema/", _docs(SchemaView.as_view()), name="schema"),
    path("api/v1/docs/", _docs(SpectacularSwaggerView.as_view(url_name="schema")), name="swagger-ui"),
    path("api/v1/redoc/", _docs(RedocView.as_view(url_name="schema")), name="redoc"),
    *area_patterns,
    path("api/v1/", include(area_patterns)),
    *openai_patterns,
]

handler400 = "mlservice.api.exceptions.bad_request_view"
handler403 = "mlservice.api.exceptions.permission_denied_view"
handler404 = "mlservice.api.exceptions.not_found_view"
handler500 = "mlservice.api.exceptions.server_error_view"
