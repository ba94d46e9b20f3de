"""The core's ServiceError family (issue 13): codes, statuses and headers, mapped by one native and
one OpenAI handler; the contract's bodies are unchanged (the code travels in X-Error-Code)."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory, override_settings

from mlservice.api.exceptions import native_exception_handler, openai_exception_handler, request_error
from mlservice.core import errors
from mlservice.core.errors import ERROR_CODE_HEADER, NotConfigured, PayloadTooLarge, ServiceError, ServiceUnavailable
from services.model_gate import Overloaded


@pytest.mark.parametrize(
    ("cls", "status", "code"),
    [
        (errors.ServiceError, 500, "service_error"),
        (errors.BadRequest, 400, "bad_request"),
        (errors.NotFoundError, 404, "not_found"),
        (errors.PayloadTooLarge, 413, "payload_too_large"),
        (errors.UnsupportedMedia, 415, "unsupported_media_type"),
        (errors.UpstreamError, 502, "upstream_error"),
        (errors.ServiceUnavailable, 503, "service_unavailable"),
        (errors.NotConfigured, 503, "not_configured"),
    ],
)
def test_each_error_has_a_stable_code_and_status(cls: type[ServiceError], status: int, code: str) -> None:
    error = cls("went wrong")
    assert (error.status, error.status_code, error.code, error.message, str(error)) == (
        status,
        status,
        code,
        "went wrong",
        "went wrong",
    )
    assert error.headers == {} and error.extra == {} and error.param is None


def test_instance_status_code_headers_and_extra_fields() -> None:
    error = ServiceError("filePath is outside", 403, code="path_outside_uploads", headers={"X-A": "1"}, path="/x")
    assert (error.status, error.code, error.headers, error.extra) == (
        403,
        "path_outside_uploads",
        {"X-A": "1"},
        {"path": "/x"},
    )
    assert ServiceError.code == "service_error"  # the class keeps its own code
    assert ServiceUnavailable("busy", retry_after=2.2).headers == {"Retry-After": "3"}
    assert ServiceUnavailable("busy", retry_after=0.01).headers == {"Retry-After": "1"}
    assert Overloaded("queue full", retry_after=7).headers == {"Retry-After": "7"}
    assert Overloaded.code == "model_overloaded"


def test_native_handler_keeps_the_contract_body_and_sends_code_and_headers() -> None:
    response = native_exception_handler(Overloaded("local-llm is busy", retry_after=4))
    assert response.status_code == 503
    assert response.data == {"success": False, "error": "local-llm is busy", "statusCode": 503}
    assert response["Retry-After"] == "4"
    assert response[ERROR_CODE_HEADER] == "model_overloaded"
    assert "x-should-retry" not in response


def test_openai_handler_speaks_the_envelope_with_the_same_headers() -> None:
    response = openai_exception_handler(NotConfigured("No model: set OPENAI_API_KEY", param="model"))
    assert response.status_code == 503
    assert response.data == {
        "error": {"message": "No model: set OPENAI_API_KEY", "type": "api_error", "param": "model", "code": None}
    }
    assert response["x-should-retry"] == "false"  # NotConfigured: no retry can cure it
    assert response[ERROR_CODE_HEADER] == "not_configured"
    transient = openai_exception_handler(ServiceUnavailable("down", retry_after=2))
    assert transient["Retry-After"] == "2" and "x-should-retry" not in transient


def test_django_level_errors_share_the_envelope_builder() -> None:
    factory = RequestFactory()
    openai = request_error(factory.get("/v1/nope"), 404, "Not Found", "Cannot GET /v1/nope")
    assert openai.status_code == 404 and openai["x-should-retry"] == "false"
    assert json.loads(openai.content) == {
        "error": {"message": "Cannot GET /v1/nope", "type": "invalid_request_error", "param": None, "code": None}
    }
    server = request_error(factory.get("/v1/chat/completions"), 500, "Internal server error")
    assert json.loads(server.content)["error"]["type"] == "api_error" and "x-should-retry" not in server
    native = request_error(factory.get("/nope"), 404, "Not Found", "Cannot GET /nope")
    assert json.loads(native.content) == {
        "success": False,
        "error": "Not Found",
        "message": "Cannot GET /nope",
        "statusCode": 404,
    }


@override_settings(EMBEDDING_MAX_TEXT_CHARS=10)
def test_a_service_error_on_the_wire(api) -> None:
    response = api.post("/embeddings/generate", {"text": "x" * 11}, format="json")
    assert response.status_code == 413
    assert response.json() == {
        "success": False,
        "error": "text is 11 characters; the limit is 10 (EMBEDDING_MAX_TEXT_CHARS)",
        "statusCode": 413,
    }
    assert response[ERROR_CODE_HEADER] == PayloadTooLarge.code == "payload_too_large"


def test_a_drf_error_has_no_error_code_header(api) -> None:
    response = api.post("/complexity/estimate", {}, format="json")
    assert response.status_code == 400
    assert ERROR_CODE_HEADER not in response
