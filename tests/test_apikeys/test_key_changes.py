"""Issue 12 item 10: creating or revoking a key takes effect on every worker within about 1 s.

Each AuthService instance stands for one worker process: its own in-memory key cache, and only the
database shared with the others.
"""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from apikeys.models import ApiKey
from services.auth_service import AuthService


class Clock:
    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(time, "monotonic", fake)
    return fake


@pytest.fixture
def workers():
    return AuthService(), AuthService()


def _revoke(key: ApiKey) -> None:
    call_command("apikey", "revoke", str(key.pk), stdout=None)


def test_revocation_reaches_every_worker_within_a_second(workers, clock):
    key, raw = ApiKey.generate("gateway")
    assert [w.verify(raw) for w in workers] == [f"db:{key.pk}", f"db:{key.pk}"]
    _revoke(key)
    clock.advance(1.01)
    assert [w.verify(raw) for w in workers] == [None, None]
    # Revoking the last key keeps the API locked.
    assert all(w.auth_enabled() for w in workers)


def test_new_key_reaches_every_worker_within_a_second(workers, clock):
    ApiKey.generate("first")
    assert all(w.auth_enabled() for w in workers)
    second, raw = ApiKey.generate("second")
    clock.advance(1.01)
    assert [w.verify(raw) for w in workers] == [f"db:{second.pk}", f"db:{second.pk}"]


def test_a_worker_reads_the_stamp_at_most_once_a_second(workers, clock, django_assert_num_queries, settings):
    settings.API_KEY_CACHE_SECONDS = 3600  # no periodic full reload in this test
    key, raw = ApiKey.generate("gateway")
    worker = workers[0]
    worker.verify(raw)
    clock.advance(61)  # past the last_used_at write interval too
    with django_assert_num_queries(2):  # the stamp, and last_used_at
        worker.verify(raw)
    with django_assert_num_queries(0):
        for _ in range(50):
            assert worker.verify(raw) == f"db:{key.pk}"


def test_unchanged_table_is_not_reloaded(workers, clock, django_assert_num_queries, settings):
    settings.API_KEY_CACHE_SECONDS = 3600
    _key, raw = ApiKey.generate("gateway")
    worker = workers[0]
    worker.verify(raw)
    clock.advance(1.01)
    with django_assert_num_queries(1):  # only the stamp; same count and updated_at
        worker.verify(raw)


def test_admin_edit_and_bulk_revoke_move_the_stamp(workers, clock):
    key, raw = ApiKey.generate("gateway")
    other, other_raw = ApiKey.generate("other")
    worker = workers[0]
    assert worker.verify(raw) and worker.verify(other_raw)
    before = ApiKey.objects.get(pk=key.pk).updated_at

    key.revoked = True
    key.save()  # as the admin change form does
    assert key.updated_at >= before and not hasattr(key.updated_at, "resolve_expression")
    clock.advance(1.01)
    assert worker.verify(raw) is None

    ApiKey.objects.filter(pk=other.pk).revoke()  # as the admin action does
    clock.advance(1.01)
    assert worker.verify(other_raw) is None


def test_deleted_key_stops_working(workers, clock):
    key, raw = ApiKey.generate("gateway")
    ApiKey.generate("keeps the api locked")
    worker = workers[0]
    assert worker.verify(raw)
    key.delete()
    clock.advance(1.01)
    assert worker.verify(raw) is None


def test_on_postgresql_too(require_service, workers, clock, settings):
    """The stamp uses the database clock (Now()); run this file with DATABASE_URL=postgres://... to cover it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("run with DATABASE_URL pointing at PostgreSQL")
    key, raw = ApiKey.generate("gateway")
    assert workers[1].verify(raw) == f"db:{key.pk}"
    _revoke(key)
    clock.advance(1.01)
    assert workers[1].verify(raw) is None
