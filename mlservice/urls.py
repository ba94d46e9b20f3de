"""Every area answers at its TS path (no prefix) and again under /api/v1/ (contract 9.1)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

AREAS = ["health", "complexity", "embeddings", "rag", "analysis", "generation", "transcription"]
area_patterns = [path("", include(f"{area}.urls")) for area in AREAS]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    *area_patterns,
    path("api/v1/", include(area_patterns)),
]

handler400 = "mlservice.api.exceptions.bad_request_view"
handler403 = "mlservice.api.exceptions.permission_denied_view"
handler404 = "mlservice.api.exceptions.not_found_view"
handler500 = "mlservice.api.exceptions.server_error_view"
