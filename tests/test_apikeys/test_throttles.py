"""Issue 12 item 8: one identity and one throttle bucket per key; counters shared by the workers."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from mlservice.api import auth
from mlservice.api.sqlite_cache import SQLiteCache
from services import auth_service


@pytest.fixture(autouse=True)
def _fresh():
    auth_service.get_instance().reset()
    caches["throttle"].clear()
    auth.throttle_cache.reset()
    yield
    auth_service.get_instance().reset()


@contextlib.contextmanager
def throttle_rates(**scopes: str):
    """DRF reads its settings once: reload them inside, and again after (a nested override)."""
    rates = {"api_key": None, "ip": None, **scopes}
    with override_settings(REST_FRAMEWORK={**django_settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        api_settings.reload()
        try:
            yield
        finally:
            api_settings.reload()
    api_settings.reload()


@override_settings(ML_SERVICE_API_KEYS=["key-one", "key-two"])
def test_each_environment_key_has_its_own_identity_without_the_raw_key():
    service = auth_service.get_instance()
    one, two = service.verify("key-one"), service.verify("key-two")
    assert one.startswith("env:") and two.startswith("env:") and one != two
    assert "key-one" not in one and "key-two" not in two
    assert service.verify("key-one") == one  # stable
    assert service.verify("key-three") is None


@override_settings(ML_SERVICE_API_KEYS=["key-one", "key-two"])
def test_each_environment_key_has_its_own_throttle_bucket(api):
    with throttle_rates(api_key="2/min"):
        one = [api.get("/complexity/scale", HTTP_X_API_KEY="key-one").status_code for _ in range(3)]
        two = [api.get("/complexity/scale", HTTP_X_API_KEY="key-two").status_code for _ in range(3)]
    assert one == [200, 200, 429]
    assert two == [200, 200, 429]


def _count_allowed(requests: int, result) -> None:
    throttle_request = Request(APIRequestFactory().get("/complexity/scale", REMOTE_ADDR="198.51.100.7"))
    allowed = sum(auth.IpRateThrottle().allow_request(throttle_request, None) for _ in range(requests))
    result.put(allowed)


def test_two_worker_processes_share_one_limit(tmp_path):
    """A 20/min limit with 2 workers admitted 40: each process counted on its own."""
    store = {"BACKEND": "mlservice.api.sqlite_cache.SQLiteCache", "LOCATION": str(tmp_path / "throttle.sqlite3")}
    with throttle_rates(ip="20/min"), override_settings(CACHES={**django_settings.CACHES, "throttle": store}):
        context = multiprocessing.get_context("fork")
        result = context.Queue()
        for _worker in range(2):
            process = context.Process(target=_count_allowed, args=(15, result))
            process.start()
            process.join(30)
        assert result.get(timeout=5) + result.get(timeout=5) == 20


def test_default_store_without_redis_is_the_shared_sqlite_file():
    from mlservice.settings import base

    if base.REDIS_URL:
        pytest.skip("REDIS_URL is set: the throttles use Redis")
    assert base.CACHES["throttle"]["BACKEND"] == "mlservice.api.sqlite_cache.SQLiteCache"
    assert base.CACHES["throttle"]["LOCATION"].endswith("throttle.sqlite3")


def test_a_per_process_store_is_reported_at_start_up(caplog):
    with throttle_rates(ip="20/min"), caplog.at_level(logging.WARNING, logger="mlservice.auth"):
        auth.warn_if_throttles_not_shared()  # the test settings keep counters in local memory
    assert "local to each worker process" in caplog.text and "20/min" in caplog.text


def test_a_shared_store_is_not_reported(caplog, tmp_path):
    store = {"BACKEND": "mlservice.api.sqlite_cache.SQLiteCache", "LOCATION": str(tmp_path / "t.sqlite3")}
    shared = override_settings(CACHES={**django_settings.CACHES, "throttle": store})
    with throttle_rates(ip="20/min"), shared, caplog.at_level(logging.WARNING):
        auth.warn_if_throttles_not_shared()
    assert "local to each worker process" not in caplog.text


# --- the SQLite store itself


@pytest.fixture
def store(tmp_path):
    return SQLiteCache(str(tmp_path / "cache.sqlite3"), {"KEY_PREFIX": "t"})


def test_sqlite_store_roundtrip_and_expiry(store, monkeypatch):
    store.set("history", [3.0, 2.0], 60)
    assert store.get("history") == [3.0, 2.0]
    assert store.get("missing", "default") == "default"
    assert store.has_key("history") and not store.has_key("missing")
    store.set("short", "x", 10)
    import mlservice.api.sqlite_cache as module

    real_time = module.time.time
    monkeypatch.setattr(module.time, "time", lambda: real_time() + 11)
    assert store.get("short") is None and store.get("history") == [3.0, 2.0]
    assert store.add("short", "y", 10)  # an expired entry may be replaced


def test_sqlite_store_add_incr_delete_touch_clear(store):
    assert store.add("n", 1, 60) is True
    assert store.add("n", 5, 60) is False
    assert store.incr("n") == 2 and store.incr("n", 3) == 5
    assert store.get("n") == 5
    with pytest.raises(ValueError):
        store.incr("missing")
    assert store.touch("n", 120) and not store.touch("missing")
    assert store.delete("n") and not store.delete("n")
    store.set("a", {"b": 1}, None)
    store.clear()
    assert store.get("a") is None


def test_sqlite_store_is_shared_between_processes(store):
    store.set("n", 0, 60)
    context = multiprocessing.get_context("fork")

    def bump() -> None:
        for _ in range(50):
            store.incr("n")

    processes = [context.Process(target=bump) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    assert store.get("n") == 100  # incr is atomic: no update lost


@override_settings(ML_SERVICE_API_KEYS=["key-one", "key-two"])
def test_apikey_list_names_environment_keys_by_identity(capsys):
    from django.core.management import call_command

    call_command("apikey", "list")
    out = capsys.readouterr().out
    service = auth_service.get_instance()
    assert f"{service.verify('key-one')}\tML_SERVICE_API_KEYS entry 1" in out
    assert f"{service.verify('key-two')}\tML_SERVICE_API_KEYS entry 2" in out
    assert "key-one" not in out.replace("ML_SERVICE_API_KEYS", "")
