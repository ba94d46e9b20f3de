"""Errors have the contract's JSON shape whatever DEBUG says (Django's debug pages never show)."""

import pytest
from django.urls import include, path
from rest_framework.test import APIClient

import mlservice.urls


def _crash(request):
    raise RuntimeError("secret internal detail")


# The project's URLconf plus a plain Django view that crashes (DRF views never reach Django's 500 page).
urlpatterns = [path("crash-for-test", _crash), path("", include(mlservice.urls.urlpatterns))]
handler404 = mlservice.urls.handler404
handler500 = mlservice.urls.handler500


@pytest.fixture
def debug_client(settings) -> APIClient:
    settings.DEBUG = True
    # A new client builds its middleware chain now, with DEBUG on (as a server process does at start).
    return APIClient(raise_request_exception=False)


def test_unknown_route_is_json_404_with_debug_on(debug_client):
    response = debug_client.get("/nope")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"success": False, "error": "Not Found", "message": "Cannot GET /nope", "statusCode": 404}
    assert b"URLconf" not in response.content and b"admin/" not in response.content


def test_trailing_slash_is_json_404_with_debug_on(debug_client):
    response = debug_client.post("/complexity/estimate/", {"title": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["message"] == "Cannot POST /complexity/estimate/"
    health = debug_client.get("/health/")
    assert health.json() == {
        "success": False,
        "error": "Not Found",
        "message": "Cannot GET /health/",
        "statusCode": 404,
    }


def test_routes_still_answer_with_debug_on(debug_client):
    response = debug_client.get("/health")
    assert response.status_code == 200
    assert response.json()["version"] == "0.1.0"


def test_crash_in_a_django_view_is_json_500_with_debug_on(debug_client, settings):
    settings.ROOT_URLCONF = __name__
    response = debug_client.get("/crash-for-test")
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "Internal server error", "statusCode": 500}
    assert b"secret" not in response.content and b"Traceback" not in response.content


def test_middleware_is_left_out_with_debug_off(settings):
    from django.core.exceptions import MiddlewareNotUsed

    from mlservice.api.error_pages import ContractErrorPagesMiddleware

    settings.DEBUG = False
    with pytest.raises(MiddlewareNotUsed):
        ContractErrorPagesMiddleware(lambda request: None)
