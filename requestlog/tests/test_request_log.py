"""Contract 7: one ml_service_requests row per handled request, daily usage aggregates, never blocking."""

import time
import uuid

import pytest
from django.db import connection
from django.test import override_settings

from requestlog import recorder
from requestlog.models import RequestLog, UsageDaily

USER = str(uuid.uuid4())
ORG = str(uuid.uuid4())


def estimate(api, body, **headers):
    return api.post("/complexity/estimate", body, format="json", **headers)


def test_request_row_has_contract_columns(api):
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


def test_database_down_never_fails_the_request(api, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("database is down")

    with monkeypatch.context() as patch:
        # Django's database layer fails, as when PostgreSQL is stopped.
        patch.setattr(type(connection._connections[connection._alias]), "cursor", refuse)
        response = estimate(api, {"title": "Fix typo"})
    assert response.status_code == 201
    assert response.json()["complexityScore"] == 1


@pytest.mark.django_db(transaction=True)
@override_settings(REQUEST_LOG_SYNC=False)
def test_background_writer_drains_the_queue(api):
    for index in range(20):
        estimate(api, {"title": f"task {index}"})
    assert recorder.flush(timeout=10)
    # The writer commits in its own thread and connection; give it the last batch.
    for _ in range(50):
        if RequestLog.objects.count() == 20:
            break
        time.sleep(0.1)
    assert RequestLog.objects.count() == 20
    assert UsageDaily.objects.get(endpoint_category="complexity").total_requests == 20
