"""Issue 12 item 2: while the key table cannot be read, protected routes fail closed (503)."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import override_settings

from apikeys.models import ApiKey
from services import auth_service


@pytest.fixture(autouse=True)
def _fresh_worker():
    # As a worker that has just started: nothing loaded yet.
    auth_service.get_instance().reset()
    yield
    auth_service.get_instance().reset()


@pytest.fixture
def key_table_down(monkeypatch):
    """Every query on the key table fails, as with the database down or migrations not run."""
    real_execute = CursorWrapper.execute

    def execute(self, sql, params=None):
        if "apikeys_apikey" in sql:
            raise OperationalError("no such table: apikeys_apikey")
        return real_execute(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", execute)
    return monkeypatch


def _assert_503(response):
    assert response.status_code == 503
    assert response.json() == {
        "success": False,
        "error": "API keys could not be loaded from the database; retry shortly",
        "statusCode": 503,
    }
    assert int(response["Retry-After"]) >= 1


def test_protected_route_is_refused_not_opened_while_keys_cannot_load(api, key_table_down):
    _assert_503(api.get("/complexity/scale"))
    _assert_503(api.post("/complexity/estimate", {"title": "x"}, format="json"))
    _assert_503(api.get("/complexity/scale", HTTP_AUTHORIZATION="Bearer mls_anything"))
    # Still refused on the next request: the failure is not cached as "no keys".
    _assert_503(api.get("/complexity/scale"))


@pytest.mark.parametrize("path", ["/health", "/live", "/api/v1/health", "/api/v1/live"])
def test_probes_stay_open_while_keys_cannot_load(api, key_table_down, path):
    assert api.get(path).status_code == 200


def test_service_opens_once_the_table_is_read(api, key_table_down):
    _assert_503(api.get("/complexity/scale"))
    key_table_down.undo()
    auth_service.get_instance().invalidate()  # the retry time has passed
    assert api.get("/complexity/scale").status_code == 200


def test_database_key_works_once_the_table_is_read(api, key_table_down):
    key_table_down.undo()
    _key, raw = ApiKey.generate("gateway")
    auth_service.get_instance().reset()
    assert api.get("/complexity/scale").status_code == 401
    assert api.get("/complexity/scale", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200


def test_loaded_keys_survive_a_later_database_blip(api, monkeypatch):
    _key, raw = ApiKey.generate("gateway")
    assert api.get("/complexity/scale", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    real_execute = CursorWrapper.execute

    def execute(self, sql, params=None):
        if "apikeys_apikey" in sql:
            raise OperationalError("server closed the connection")
        return real_execute(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", execute)
    auth_service.get_instance().invalidate()
    assert api.get("/complexity/scale", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    assert api.get("/complexity/scale").status_code == 401


@override_settings(ML_SERVICE_API_KEYS=["env-secret"])
def test_environment_keys_still_work_while_the_table_cannot_load(api, key_table_down):
    assert api.get("/complexity/scale", HTTP_X_API_KEY="env-secret").status_code == 200
    assert api.get("/complexity/scale").status_code == 401
    # Possibly a database key: it cannot be checked, so it is refused with 503, not let through.
    _assert_503(api.get("/complexity/scale", HTTP_X_API_KEY="mls_other"))
