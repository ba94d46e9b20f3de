"""Shared test fixtures.

Tests that need a real service (PostgreSQL, Redis, RabbitMQ) use ``require_service``: locally
they skip when it is not running, but under CI (``CI`` set) they fail, so a missing service can
never turn into a silently green run.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from urllib.parse import urlparse

import pytest
from rest_framework.test import APIClient

IN_CI = bool(os.environ.get("CI"))

SERVICE_URLS = {
    "postgres": os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
    "redis": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "rabbitmq": os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}


def service_reachable(url: str, timeout: float = 1.0) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 0), timeout=timeout):
            return True
    except OSError:
        return False


def require_service_url(name: str) -> str:
    url = SERVICE_URLS[name]
    if not service_reachable(url):
        message = f"{name} is not reachable at {url}"
        if IN_CI:
            pytest.fail(f"{message} (CI is set: services must be running)")
        pytest.skip(message)
    return url


@pytest.fixture
def require_service() -> Callable[[str], str]:
    return require_service_url


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def post_json(api: APIClient) -> Callable:
    def post(path: str, body: object, **extra: object):
        return api.post(path, body, format="json", **extra)

    return post


@pytest.fixture(autouse=True)
def _enable_db(db: None) -> None:
    """Every request writes a request-log row, so every test may touch the database."""


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from django.core.cache import caches

    # Throttle counters too: another test's requests from 127.0.0.1 must not count against this one.
    for alias in ("default", "throttle"):
        try:
            caches[alias].clear()
        except Exception:  # noqa: BLE001 - a test may have pointed the cache at a stopped server
            pass
