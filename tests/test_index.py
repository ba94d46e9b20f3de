"""``GET /`` (issue 14): the service's name, version and links, every link answering."""

import pytest
from django.test import override_settings


def test_root_names_the_service_and_links_docs_health_and_metrics(api):
    response = api.get("/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["name"] == "mlservice" and body["version"] == "0.1.0"
    assert body["links"] == {
        "docs": "/api/v1/docs/",
        "redoc": "/api/v1/redoc/",
        "schema": "/api/v1/schema/",
        "health": "/health",
        "ready": "/health/ready",
        "live": "/health/live",
        "metrics": "/metrics",
        "openai": "/v1",
    }


@pytest.mark.django_db
def test_every_link_answers(api):
    links = api.get("/").json()["links"]
    for name in ("docs", "redoc", "schema", "health", "ready", "live", "metrics"):
        assert api.get(links[name]).status_code == 200, name
    assert api.get(f"{links['openai']}/models").status_code == 200


@override_settings(ML_SERVICE_API_KEYS=["k" * 32])
def test_root_is_open_like_the_probes_and_unknown_paths_stay_404(api):
    assert api.get("/").status_code == 200
    assert api.get("/rag/stats").status_code == 401
    missing = api.get("/nope")
    assert missing.status_code == 404 and missing.json()["message"] == "Cannot GET /nope"
