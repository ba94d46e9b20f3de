"""Contract 2.2-2.4 and 9.5: every failure has the contract's JSON shape, never an HTML page or a 500."""

import pytest
from django.test import override_settings


def test_unknown_route_is_json_404(api):
    response = api.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": "Not Found", "message": "Cannot GET /nope", "statusCode": 404}


def test_trailing_slash_is_not_redirected(api):
    response = api.post("/complexity/estimate/", {"title": "x"}, format="json")
    assert response.status_code == 404
    assert response.json()["message"] == "Cannot POST /complexity/estimate/"


def test_wrong_method_is_405_in_contract_shape(api):
    response = api.get("/complexity/estimate")
    assert response.status_code == 405
    assert response.json() == {
        "success": False,
        "error": "Method Not Allowed",
        "message": 'Method "GET" not allowed.',
        "statusCode": 405,
    }


def test_malformed_json_is_400(api):
    response = api.post("/complexity/estimate", data=b"not json", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Bad Request" and body["statusCode"] == 400
    assert body["message"][0].startswith("Malformed JSON")


def test_empty_json_body_is_missing_fields(api):
    response = api.post("/complexity/estimate", data=b"", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"] == ["title must be a string"]


def test_multipart_to_json_endpoint_is_415(api):
    response = api.post("/complexity/estimate", {"title": "x"}, format="multipart")
    assert response.status_code == 415
    body = response.json()
    assert body["success"] is False and body["statusCode"] == 415
    assert "multipart/form-data" in body["message"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_oversized_body_is_413(api):
    response = api.post("/complexity/estimate", {"title": "x" * 4000}, format="json")
    assert response.status_code == 413
    assert response.json() == {"success": False, "error": "Request body is too large", "statusCode": 413}


def test_unknown_keys_listed_with_field_errors(api):
    response = api.post("/complexity/adjustment", {"preLevel": "1", "foo": 1, "bar": 2}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == [
        "property foo should not exist",
        "property bar should not exist",
        "preLevel must be a number conforming to the specified constraints",
        "actualLevel must be a number conforming to the specified constraints",
    ]


def test_same_field_in_both_cases_is_rejected(api):
    response = api.post("/complexity/adjustment", {"preLevel": 1, "pre_level": 2, "actualLevel": 1}, format="json")
    assert response.status_code == 400
    assert response.json()["message"] == ["property pre_level should not exist"]


@pytest.mark.parametrize("body", [None, 5, "text", [], True])
def test_non_object_bodies(api, body):
    response = api.post("/complexity/adjustment", body, format="json")
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_request_id_is_echoed_or_generated(api):
    echoed = api.get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert echoed["X-Request-ID"] == "abc-123"
    generated = api.get("/health", HTTP_X_REQUEST_ID="bad id with spaces")
    assert generated["X-Request-ID"] != "bad id with spaces"
    assert len(generated["X-Request-ID"]) == 36


def test_unhandled_error_is_generic_500_without_traceback(api, monkeypatch):
    from services import complexity_service

    def explode(self, *args, **kwargs):
        raise RuntimeError("secret internal detail")

    with monkeypatch.context() as patch:
        patch.setattr(complexity_service.ComplexityService, "scale", explode)
        response = api.get("/complexity/scale")
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "Internal server error", "statusCode": 500}
    assert b"secret" not in response.content
