"""CORS through django-cors-headers: off by default, CORS_ALLOWED_ORIGINS turns it on."""

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from .test_settings import _manage

APP = "https://app.example.com"
SHOW = (
    "from django.conf import settings as s; "
    "print(s.MIDDLEWARE[0], 'corsheaders' in s.INSTALLED_APPS, ','.join(s.CORS_ALLOWED_ORIGINS) or '-')"
)


@pytest.fixture
def cors_client(settings) -> APIClient:
    settings.CORS_ALLOWED_ORIGINS = [APP]
    settings.MIDDLEWARE = ["corsheaders.middleware.CorsMiddleware", *settings.MIDDLEWARE]
    return APIClient()  # builds its middleware chain with CORS on


def _preflight(client: APIClient, origin: str):
    return client.options(
        "/embeddings/generate",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type,x-api-key",
    )


def test_cors_is_off_by_default(api):
    assert "corsheaders.middleware.CorsMiddleware" not in django_settings.MIDDLEWARE
    response = _preflight(api, APP)
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in api.get("/health", HTTP_ORIGIN=APP)


def test_preflight_from_an_allowed_origin(cors_client):
    response = _preflight(cors_client, APP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert "POST" in response["Access-Control-Allow-Methods"].split(", ")
    allowed = response["Access-Control-Allow-Headers"].split(", ")
    assert {"content-type", "x-api-key", "authorization"} <= set(allowed)
    assert response["Access-Control-Max-Age"] == "86400"
    assert "Access-Control-Allow-Credentials" not in response


def test_preflight_from_another_origin_gets_no_grant(cors_client):
    response = _preflight(cors_client, "https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in response


def test_simple_request_from_an_allowed_origin_exposes_the_request_id(cors_client):
    response = cors_client.get("/health", HTTP_ORIGIN=APP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Expose-Headers"] == "X-Request-ID, Retry-After, X-Error-Code"
    assert response.json()["version"] == "0.1.0"


def test_cors_allowed_origins_turns_the_middleware_on():
    off = _manage("shell", "-v", "0", "-c", SHOW)
    on = _manage("shell", "-v", "0", "-c", SHOW, CORS_ALLOWED_ORIGINS=f"{APP}, http://localhost:3000")
    assert off.stdout.split() == ["mlservice.api.middleware.RequestContextMiddleware", "False", "-"]
    assert on.stdout.split() == ["corsheaders.middleware.CorsMiddleware", "True", f"{APP},http://localhost:3000"]
