"""Metrics, structured logs and request ids (issue 7)."""

import logging

import orjson
from django.test import override_settings

from mlservice.api.log_context import JsonFormatter, RequestIdLogFilter, request_id_var


def test_metrics_count_requests_by_route_and_status(api):
    api.post("/complexity/estimate", {"title": "x"}, format="json")
    api.post("/api/v1/complexity/estimate", {}, format="json")
    body = api.get("/metrics").content.decode()
    assert 'mlservice_http_requests_total{method="POST",route="complexity/estimate",status="201"}' in body
    assert 'mlservice_http_requests_total{method="POST",route="api/v1/complexity/estimate",status="400"}' in body
    assert "mlservice_http_request_duration_seconds_bucket" in body
    assert api.get("/metrics")["Content-Type"].startswith("text/plain")


def test_unknown_routes_share_one_label(api):
    api.get("/no/such/path/123")
    assert 'route="unmatched",status="404"' in api.get("/metrics").content.decode()


@override_settings(ML_SERVICE_API_KEYS=["k"])
def test_metrics_need_a_key_when_keys_are_configured(api):
    from services import auth_service

    auth_service.get_instance().invalidate()
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", HTTP_X_API_KEY="k").status_code == 200


def test_json_log_lines_carry_request_id_and_extra_fields():
    record = logging.LogRecord("mlservice.access", logging.INFO, __file__, 1, "GET %s", ("/x",), None)
    record.status = 200
    token = request_id_var.set("req-7")
    try:
        RequestIdLogFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = orjson.loads(JsonFormatter().format(record))
    assert line["request_id"] == "req-7"
    assert line["message"] == "GET /x"
    assert line["status"] == 200
    assert line["level"] == "INFO" and line["time"].endswith("Z")


@override_settings(ACCESS_LOG=True)
def test_access_log_line_per_request(api, caplog):
    from django.test import Client

    with caplog.at_level(logging.INFO, logger="mlservice.access"):
        Client().get("/complexity/scale", HTTP_X_REQUEST_ID="trace-1")
    record = next(r for r in caplog.records if r.name == "mlservice.access")
    assert record.status == 200 and record.route == "complexity/scale"
    assert record.request_id == "trace-1"
