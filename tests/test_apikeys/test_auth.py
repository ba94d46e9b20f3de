"""API keys (issue 7): optional; when configured every route but /health and /live needs one."""

import pytest
from django.core.management import call_command
from django.test import override_settings

from apikeys.models import ApiKey
from services import auth_service


@pytest.fixture(autouse=True)
def _fresh_key_cache():
    auth_service.get_instance().invalidate()
    yield
    auth_service.get_instance().invalidate()


def test_open_when_no_key_is_configured(api):
    assert api.get("/complexity/scale").status_code == 200


def test_any_presented_token_is_ignored_when_no_key_is_configured(api):
    # The OpenAI SDK always sends "Authorization: Bearer <its key>".
    assert api.get("/complexity/scale", HTTP_AUTHORIZATION="Bearer sk-whatever").status_code == 200


@override_settings(ML_SERVICE_API_KEYS=["env-secret"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"HTTP_AUTHORIZATION": "Bearer env-secret"}, 200),
        ({"HTTP_X_API_KEY": "env-secret"}, 200),
        ({"HTTP_AUTHORIZATION": "Bearer wrong"}, 401),
        ({"HTTP_X_API_KEY": "wrong"}, 401),
    ],
)
def test_env_keys(api, headers, status):
    response = api.get("/complexity/scale", **headers)
    assert response.status_code == status
    if status == 401:
        body = response.json()
        assert body["success"] is False and body["statusCode"] == 401
        assert response["WWW-Authenticate"].startswith("Bearer")


@override_settings(ML_SERVICE_API_KEYS=["env-secret"])
@pytest.mark.parametrize("path", ["/health", "/live", "/health/live", "/api/v1/health"])
def test_probes_stay_open(api, path):
    assert api.get(path).status_code == 200


@override_settings(ML_SERVICE_API_KEYS=["env-secret"])
def test_missing_key_message_names_the_headers(api):
    body = api.post("/complexity/estimate", {"title": "x"}, format="json").json()
    assert body["error"] == "Unauthorized"
    assert "Authorization: Bearer" in body["message"] and "X-API-Key" in body["message"]


def test_database_keys_hashed_created_and_revoked(api, capsys):
    call_command("apikey", "create", "gateway")
    raw = capsys.readouterr().out.strip()
    key = ApiKey.objects.get()
    assert raw.startswith("mls_") and raw not in (key.key_hash, key.prefix)
    auth_service.get_instance().invalidate()
    assert api.get("/complexity/scale").status_code == 401
    assert api.get("/complexity/scale", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None

    call_command("apikey", "revoke", str(key.pk))
    auth_service.get_instance().invalidate()
    assert api.get("/complexity/scale", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    call_command("apikey", "list")
    assert "revoked" in capsys.readouterr().out


@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf").conf.settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": None, "ip": "3/min"},
    }
)
def test_ip_throttle_answers_429_with_retry_after(api):
    from rest_framework.settings import api_settings

    api_settings.reload()
    try:
        statuses = [api.get("/complexity/scale").status_code for _ in range(4)]
        limited = api.get("/complexity/scale")
    finally:
        api_settings.reload()
    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["statusCode"] == 429
