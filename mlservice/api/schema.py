"""OpenAPI schema hooks."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)

_DOC_PATHS = ("/api/v1/schema", "/api/v1/docs", "/api/v1/redoc")


def only_versioned_paths(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Document each endpoint once: under /api/v1/ (the unprefixed TS paths are the same views),
    plus the OpenAI-compatible /v1/ routes."""
    return [
        ep
        for ep in endpoints
        if (ep[0].startswith("/api/v1/") and not ep[0].startswith(_DOC_PATHS)) or ep[0].startswith("/v1/")
    ]


class ContractSerializerExtension(OpenApiSerializerExtension):
    """Request bodies reject unknown keys (contract 2.3): say so with ``additionalProperties: false``,
    so clients and fuzzers generate bodies the API accepts."""

    target_class = "mlservice.api.serializers.ContractSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["additionalProperties"] = False
        return schema


class StrictNumberFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "mlservice.api.fields.StrictNumberField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        field = self.target
        schema: dict[str, Any] = {"type": "integer" if field.integer else "number"}
        if field.min_value is not None:
            schema["minimum"] = field.min_value
        if field.max_value is not None:
            schema["maximum"] = field.max_value
        return schema


class StrictBooleanFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "mlservice.api.fields.StrictBooleanField"

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "boolean"}


class ApiKeyAuthenticationExtension(OpenApiAuthenticationExtension):
    target_class = "mlservice.api.auth.ApiKeyAuthentication"
    name = ["BearerApiKey", "HeaderApiKey"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [
            {"type": "http", "scheme": "bearer", "description": "Only when API keys are configured"},
            {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "Alternative to the bearer header"},
        ]
