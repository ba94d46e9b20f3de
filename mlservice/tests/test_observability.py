"""Metrics, structured logs and request ids (issue 7); bounded metrics, Host and proxy trust, logs (issue 12)."""

import json
import logging
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
from django.conf import settings
from django.http import StreamingHttpResponse
from django.test import Client, override_settings
from django.urls import path
from rest_framework.response import Response

from mlservice.api.log_context import JsonFormatter, RequestIdLogFilter, request_id_var
from mlservice.api.views import ContractView
from mlservice.core.errors import BadRequest, ServiceUnavailable
from requestlog.models import RequestLog


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


# --- issue 12: bounded metrics, Host validation, trusted proxies, and logs that help at 3 a.m.

ROOT = Path(__file__).resolve().parents[2]


def test_made_up_methods_share_one_label_value():
    # Unique names: the multiprocess metric files outlive the test process.
    junk = f"JUNK{uuid.uuid4().hex[:8].upper()}"
    client = Client()
    for index in range(30):
        assert client.generic(f"{junk}{index}", "/complexity/scale").status_code == 405
        client.generic(f"{junk}{index}", f"/no/such/{junk}/{index}")
    body = client.get("/metrics").content.decode()
    assert junk not in body
    assert 'mlservice_http_requests_total{method="other",route="complexity/scale",status="405"}' in body
    assert 'mlservice_http_requests_total{method="other",route="unmatched",status="404"}' in body


def _throttled(rate: str, **overrides):
    rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": None, "ip": rate}, **overrides}
    return override_settings(REST_FRAMEWORK=rest)


def test_rotating_x_forwarded_for_does_not_escape_the_ip_throttle():
    # NUM_PROXIES=0 (the default): the header is the client's own text, REMOTE_ADDR is the client.
    with _throttled("3/min"):
        client = Client()
        statuses = [
            client.get("/complexity/scale", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code for i in range(5)
        ]
    assert statuses == [200, 200, 200, 429, 429]
    # The request log names the same client as the throttle did.
    assert set(RequestLog.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_trusted_proxies_name_the_client_for_throttle_and_log_alike():
    # One trusted proxy: only the address it appended counts, whatever the client wrote before it.
    with _throttled("2/min", NUM_PROXIES=1):
        client = Client()
        statuses = [
            client.get("/complexity/scale", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.9").status_code
            for i in range(3)
        ]
        other = client.get("/complexity/scale", HTTP_X_FORWARDED_FOR="203.0.113.10").status_code
    assert statuses == [200, 200, 429]
    assert other == 200
    ips = list(RequestLog.objects.order_by("created_at").values_list("ip_address", flat=True))
    assert sorted(ips) == ["203.0.113.10", "203.0.113.9", "203.0.113.9", "203.0.113.9"]


def test_num_proxies_zero_stays_zero():
    # DRF reads None as "trust the whole X-Forwarded-For"; the setting must keep 0 as 0.
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0


@override_settings(ALLOWED_HOSTS=["api.example.com"])
def test_allowed_hosts_are_enforced_on_api_routes(caplog):
    client = Client()
    with caplog.at_level(logging.INFO):
        refused = client.get("/complexity/scale", HTTP_HOST="attacker.example")
    assert refused.status_code == 400
    assert refused.json() == {
        "success": False,
        "error": "Bad Request",
        "message": ["Invalid Host header"],
        "statusCode": 400,
    }
    assert client.get("/complexity/scale", HTTP_HOST="api.example.com").status_code == 200
    assert client.post("/complexity/estimate", {"title": "x"}, content_type="application/json").status_code == 400
    # Probes and the scrape address the pod by IP from inside the cluster.
    for probe in ("/live", "/health/ready", "/metrics"):
        assert client.get(probe, HTTP_HOST="10.1.2.3:8000").status_code == 200, probe
    # A client's mistake: a warning without traceback, not an ERROR.
    host_records = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert [r.levelno for r in host_records] == [logging.WARNING, logging.WARNING]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _production_setting(name: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(64)
    code = f"import json; from mlservice.settings import production as p; print(json.dumps(p.{name}))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_metrics_are_exempt_from_the_https_redirect_like_the_probes():
    exempt = _production_setting("SECURE_REDIRECT_EXEMPT")
    with override_settings(SECURE_SSL_REDIRECT=True, SECURE_REDIRECT_EXEMPT=exempt):
        client = Client()
        for probe in ("/metrics", "/api/v1/metrics", "/live", "/health/ready"):
            assert client.get(probe).status_code == 200, probe
        assert client.get("/complexity/scale").status_code == 301
        assert client.get("/metrics-x").status_code == 301


# Views for the log tests (this module is their ROOT_URLCONF).
class _NotConfiguredView(ContractView):
    def get(self, request):
        raise ServiceUnavailable("Example is not configured: set EXAMPLE_KEY")


class _BadInputView(ContractView):
    def get(self, request):
        raise BadRequest("n must be positive")


class _BugView(ContractView):
    def get(self, request):
        return Response({"ratio": 1 / 0})


class _StreamView(ContractView):
    def get(self, request):
        def chunks():
            logging.getLogger("mlservice.test").warning("inside the stream")
            yield b"data: 1\n\n"

        return StreamingHttpResponse(chunks(), content_type="text/event-stream")


urlpatterns = [
    path("not-configured", _NotConfiguredView.as_view()),
    path("bad-input", _BadInputView.as_view()),
    path("bug", _BugView.as_view()),
    path("stream", _StreamView.as_view()),
]
_LOG_VIEWS = override_settings(ROOT_URLCONF=__name__)


def _request_logs(caplog, path_: str, request_id: str) -> tuple[int, list[logging.LogRecord]]:
    caplog.handler.addFilter(RequestIdLogFilter())
    with caplog.at_level(logging.DEBUG):
        response = Client().get(path_, HTTP_X_REQUEST_ID=request_id)
        if response.streaming:
            b"".join(response.streaming_content)
    return response.status_code, list(caplog.records)


@_LOG_VIEWS
def test_documented_503_is_a_warning_with_its_reason_and_request_id(caplog):
    status, records = _request_logs(caplog, "/not-configured", "rid-503")
    assert status == 503
    [line] = [r for r in records if r.name == "django.request"]
    assert line.levelno == logging.WARNING
    assert line.getMessage() == "Service Unavailable: /not-configured (Example is not configured: set EXAMPLE_KEY)"
    assert line.request_id == "rid-503"
    assert not [r for r in records if r.levelno >= logging.ERROR]


@_LOG_VIEWS
def test_client_errors_are_info_with_request_id(caplog):
    status, records = _request_logs(caplog, "/bad-input", "rid-400")
    assert status == 400
    [line] = [r for r in records if r.name == "django.request"]
    assert (line.levelno, line.request_id) == (logging.INFO, "rid-400")
    assert line.getMessage() == "Bad Request: /bad-input (n must be positive)"
    status, records = _request_logs(caplog, "/no/such/path", "rid-404")
    assert status == 404
    assert [(r.levelno, r.request_id) for r in records if r.name == "django.request"][-1] == (logging.INFO, "rid-404")
    assert not [r for r in records if r.levelno >= logging.WARNING]


@_LOG_VIEWS
def test_a_bug_stays_an_error_with_traceback_and_request_id(caplog):
    status, records = _request_logs(caplog, "/bug", "rid-500")
    assert status == 500
    errors = [r for r in records if r.levelno >= logging.ERROR]
    assert {r.name for r in errors} == {"mlservice.errors", "django.request"}
    assert all(r.request_id == "rid-500" for r in errors)
    traceback = next(r for r in errors if r.name == "mlservice.errors")
    assert traceback.exc_info and traceback.exc_info[0] is ZeroDivisionError


@_LOG_VIEWS
def test_lines_logged_while_streaming_carry_the_request_id(caplog):
    status, records = _request_logs(caplog, "/stream", "rid-sse")
    assert status == 200
    [line] = [r for r in records if r.name == "mlservice.test"]
    assert line.request_id == "rid-sse"


def test_development_prints_each_line_once():
    code = (
        "import logging, django\n"
        "from django.conf import settings\n"
        "from django.utils.log import configure_logging\n"
        "configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)\n"
        "logging.getLogger('django.request').warning('request-marker')\n"
        "logging.getLogger('django.server').warning('server-marker')\n"
        "logging.getLogger('django.security.DisallowedHost').warning('security-marker')\n"
        "logging.getLogger('mlservice.test').warning('app-marker')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_ENV="development", DJANGO_SETTINGS_MODULE="mlservice.settings", MLSERVICE_DATA_DIR=str(ROOT / "var")
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    output = result.stdout + result.stderr
    for marker in ("request-marker", "server-marker", "security-marker", "app-marker"):
        lines = [line for line in output.splitlines() if marker in line]
        # Once, and through our handler (it adds the request id field).
        assert len(lines) == 1, output
        assert " [-] " in lines[0], output
