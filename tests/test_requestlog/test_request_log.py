"""Contract 7: one ml_service_requests row per handled request, daily usage aggregates, never blocking."""

import dataclasses
import io
import logging
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import override_settings
from django.utils import timezone

from requestlog import recorder
from requestlog.models import RequestLog, UsageDaily

USER = str(uuid.uuid4())
ORG = str(uuid.uuid4())


def estimate(api, body, **headers):
    return api.post("/complexity/estimate", body, format="json", **headers)


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 2})
def test_request_row_has_contract_columns(api):
    # Behind two trusted proxies (the gateway and its load balancer): the first forwarded address.
    response = estimate(
        api,
        {"title": "Fix typo"},
        HTTP_X_USER_ID=USER,
        HTTP_X_ORGANIZATION_ID=ORG,
        HTTP_X_FORWARDED_FOR="203.0.113.7, 10.0.0.1",
        HTTP_USER_AGENT="gateway/1.0",
        HTTP_X_REQUEST_ID="req-42",
    )
    assert response.status_code == 201
    row = RequestLog.objects.get()
    assert row.service_name == "django"
    assert row.endpoint == "/complexity/estimate"
    assert row.method == "POST"
    assert row.request_payload == {"title": "Fix typo"}
    assert row.response_payload["complexityScore"] == 1
    assert row.status_code == 201
    assert row.error_message is None
    assert row.duration_ms >= 0
    assert row.credits_charged == 0
    assert row.ip_address == "203.0.113.7"
    assert row.user_agent == "gateway/1.0"
    assert row.request_id == "req-42"
    assert str(row.user_id) == USER and str(row.organization_id) == ORG


def test_errors_are_logged_with_message(api):
    estimate(api, {"bogus": 1})
    row = RequestLog.objects.get()
    assert row.status_code == 400
    assert row.error_message == "property bogus should not exist; title must be a string"


def test_usage_aggregates_per_day_and_category(api):
    for _ in range(3):
        estimate(api, {"title": "x"}, HTTP_X_USER_ID=USER)
    estimate(api, {}, HTTP_X_USER_ID=USER)
    api.get("/complexity/scale", HTTP_X_USER_ID=USER)
    usage = UsageDaily.objects.get(user_id=USER, endpoint_category="complexity")
    assert (usage.total_requests, usage.success_count, usage.error_count) == (5, 4, 1)
    assert usage.service_name == "django"
    assert usage.avg_duration_ms == usage.total_duration_ms // 5


def test_requests_without_user_share_one_usage_row(api):
    estimate(api, {"title": "x"})
    estimate(api, {"title": "y"})
    assert UsageDaily.objects.filter(user_id=None, organization_id=None).get().total_requests == 2


def test_health_and_docs_are_not_logged(api):
    api.get("/health")
    api.get("/ready")
    api.get("/api/v1/schema/")
    assert RequestLog.objects.count() == 0


def test_bad_user_header_is_stored_as_null(api):
    estimate(api, {"title": "x"}, HTTP_X_USER_ID="not-a-uuid", HTTP_X_FORWARDED_FOR="garbage")
    row = RequestLog.objects.get()
    assert row.user_id is None
    assert row.ip_address == "127.0.0.1"


@override_settings(ENABLE_REQUEST_LOGGING=False)
def test_logging_can_be_disabled(api):
    estimate(api, {"title": "x"})
    assert RequestLog.objects.count() == 0


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("/embeddings/batch", "embeddings"),
        ("/api/v1/rag/search", "rag"),
        ("/analysis/text", "analysis"),
        ("/complexity/estimate", "complexity"),
        ("/transcription/formats", "transcription"),
        ("/chat/completions", "other"),
    ],
)
def test_endpoint_category(path, category):
    assert recorder.endpoint_category(path) == category


@override_settings(API_KEY_CHECK_SECONDS=0)
def test_database_down_never_fails_the_request(api, monkeypatch):
    def refuse(*args, **kwargs):
        # What Django raises when PostgreSQL is stopped (the driver's error, wrapped).
        raise OperationalError("database is down")

    # The worker has loaded its key list once (none stored: the API is open), as a running one has;
    # with the database gone, every request re-checks it (API_KEY_CHECK_SECONDS=0) and keeps it.
    assert estimate(api, {"title": "Fix typo"}).status_code == 201
    with monkeypatch.context() as patch:
        # Django's database layer fails, as when PostgreSQL is stopped.
        patch.setattr(type(connection._connections[connection._alias]), "cursor", refuse)
        response = estimate(api, {"title": "Fix typo"})
    assert response.status_code == 201
    assert response.json()["complexityScore"] == 1


@pytest.mark.django_db(transaction=True)
@override_settings(REQUEST_LOG_SYNC=False)
def test_background_writer_drains_the_queue(api):
    # Our own user id: rows other tests' server threads committed may share the database.
    user = str(uuid.uuid4())
    for index in range(20):
        estimate(api, {"title": f"task {index}"}, HTTP_X_USER_ID=user)
    assert recorder.flush(timeout=10)
    ours = RequestLog.objects.filter(user_id=user)
    # The writer commits in its own thread and connection; give it the last batch.
    for _ in range(50):
        if _settled(ours.count) == 20:
            break
        time.sleep(0.1)
    titles = sorted(_settled(lambda: list(ours.values_list("request_payload__title", flat=True))))
    assert titles == sorted(f"task {index}" for index in range(20))
    usage = UsageDaily.objects.filter(user_id=user, endpoint_category="complexity")
    assert _settled(lambda: usage.get().total_requests) == 20


def _settled(query):
    # The test database is SQLite's shared-cache memory database: while the writer thread commits,
    # a read from this thread meets a table lock ("database table is locked") instead of waiting.
    for _ in range(50):
        try:
            return query()
        except OperationalError:
            time.sleep(0.05)
    return query()


# --- issue 12: storable text, one bad row costs only itself, trusted IPs, retention


def _captured_records(monkeypatch, send) -> list[recorder.RequestRecord]:
    """The records real requests produce, kept instead of written to the default database."""
    captured: list[recorder.RequestRecord] = []
    monkeypatch.setattr(recorder, "write_records", lambda records, using="default": captured.extend(records) or 0)
    send()
    monkeypatch.undo()
    return captured


def _nasty_requests(api) -> None:
    for index in range(12):
        estimate(api, {"title": f"task {index}"})
    api.get("/%00")  # the 404 body says "Cannot GET /\x00"
    estimate(api, {"title": "a\u0000b"})  # a NUL escape in a JSON body
    api.get("/complexity/scale", HTTP_USER_AGENT="bot\x00/1.0")


def test_a_nul_in_the_path_is_stored_as_a_replacement_character(api):
    response = api.get("/%00")
    assert response.status_code == 404
    row = RequestLog.objects.get()
    assert row.endpoint == "/%00"
    assert row.response_payload["message"] == "Cannot GET /\ufffd"


def test_storable_text_keeps_escaped_backslashes():
    assert recorder._valid_json_text(b'{"a": "x\\u0000y", "b": "\\\\u0000"}') == '{"a": "x\\ufffdy", "b": "\\\\u0000"}'
    assert recorder.storable_text("ok\x00\ud800") == "ok\ufffd?"


def test_postgresql_stores_every_row_of_a_batch_with_nul(api, monkeypatch, pg_requestlog):
    records = _captured_records(monkeypatch, lambda: _nasty_requests(api))
    assert len(records) == 15
    # Before: one GET /%00 made PostgreSQL refuse the whole batch (10-16 rows lost).
    assert recorder.write_records(records, using=pg_requestlog) == 0
    rows = RequestLog.objects.using(pg_requestlog)
    assert rows.count() == 15
    assert rows.get(endpoint="/%00").response_payload["message"] == "Cannot GET /\ufffd"
    assert rows.filter(request_payload__title="a\ufffdb").count() == 1
    assert rows.get(endpoint="/complexity/scale").user_agent == "bot\ufffd/1.0"
    assert UsageDaily.objects.using(pg_requestlog).get(endpoint_category="complexity").total_requests == 14


def test_postgresql_drops_only_the_row_it_refuses(api, monkeypatch, pg_requestlog, caplog):
    records = _captured_records(monkeypatch, lambda: [estimate(api, {"title": f"t{i}"}) for i in range(10)])
    # A row no cleaning saves (longer than the shared table's varchar(255)), in the middle.
    records.insert(4, dataclasses.replace(records[0], endpoint="/" + "x" * 300))
    with caplog.at_level(logging.WARNING, logger="mlservice.requestlog"):
        assert recorder.write_records(records, using=pg_requestlog) == 1
    assert RequestLog.objects.using(pg_requestlog).count() == 10
    [warning] = [r for r in caplog.records if r.name == "mlservice.requestlog"]
    assert "refused 1 of 11 rows" in warning.getMessage() and "/xxxx" in warning.getMessage()
    # The usage still counts every request served.
    usage = UsageDaily.objects.using(pg_requestlog)
    assert sum(usage.values_list("total_requests", flat=True)) == 11


def test_a_database_outage_is_not_retried_row_by_row():
    record = recorder.RequestRecord(
        "/x", "GET", 200, 1.0, None, None, "r", None, None, None, None, 0, timezone.now().date()
    )
    calls = []

    class DownCursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def executemany(self, *args):
            calls.append("many")
            raise OperationalError("database is down")

        def execute(self, *args):
            calls.append("one")

    class DownConnection:
        alias = "default"

        def cursor(self):
            return DownCursor()

    with pytest.raises(OperationalError):
        recorder._insert_rows(DownConnection(), "INSERT", [[1], [2]], [record, record])
    assert calls == ["many"]


def test_spoofed_forwarded_for_is_not_the_logged_ip(api):
    estimate(api, {"title": "x"}, HTTP_X_FORWARDED_FOR="203.0.113.7", HTTP_X_REAL_IP="203.0.113.8")
    assert RequestLog.objects.get().ip_address == "127.0.0.1"


@override_settings(ML_SERVICE_API_KEYS=["k"])
def test_bodies_of_requests_without_a_valid_key_are_not_stored(api):
    from services import auth_service

    auth_service.get_instance().invalidate()
    assert estimate(api, {"title": "no key"}).status_code == 401
    assert estimate(api, {"title": "bad key"}, HTTP_X_API_KEY="wrong").status_code == 401
    assert api.post("/no/such/route", {"title": "scan"}, format="json").status_code == 404
    assert estimate(api, {"title": "mine"}, HTTP_X_API_KEY="k").status_code == 201
    payloads = dict(RequestLog.objects.values_list("status_code", "request_payload").order_by("status_code"))
    assert sorted(RequestLog.objects.values_list("status_code", flat=True)) == [201, 401, 401, 404]
    assert [p for p in RequestLog.objects.values_list("request_payload", flat=True) if p] == [{"title": "mine"}]
    assert payloads[201] == {"title": "mine"}


def _age(row_id, days: float) -> None:
    RequestLog.objects.filter(pk=row_id).update(created_at=timezone.now() - timedelta(days=days))


def _prune(*args: str) -> str:
    out = io.StringIO()
    call_command("requestlog_prune", *args, stdout=out)
    return out.getvalue().strip()


@override_settings(REQUEST_LOG_RETENTION_DAYS=30)
def test_prune_deletes_our_rows_older_than_the_retention(api):
    for index in range(4):
        estimate(api, {"title": f"t{index}"})
    old, older, recent, new = RequestLog.objects.order_by("created_at").values_list("pk", flat=True)
    _age(old, 31)
    _age(older, 400)
    _age(recent, 29)
    # Rows of the other services in the shared table are theirs to prune.
    theirs = RequestLog.objects.create(
        service_name="fastapi", endpoint="/x", method="GET", status_code=200, duration_ms=1
    )
    _age(theirs.pk, 400)

    assert _prune() == "2 request-log rows older than 30 days deleted"
    assert set(RequestLog.objects.values_list("pk", flat=True)) == {recent, new, theirs.pk}
    assert _prune("--days", "7") == "1 request-log rows older than 7 days deleted"
    assert set(RequestLog.objects.values_list("pk", flat=True)) == {new, theirs.pk}
    assert _prune() == "0 request-log rows older than 30 days deleted"
    # The aggregates hold no client data and stay.
    assert UsageDaily.objects.get(endpoint_category="complexity").total_requests == 4


def test_prune_works_in_batches(api):
    for index in range(5):
        estimate(api, {"title": f"t{index}"})
    RequestLog.objects.update(created_at=timezone.now() - timedelta(days=100))
    assert recorder.prune(30, batch_size=2) == 5
    assert RequestLog.objects.count() == 0
