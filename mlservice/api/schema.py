"""OpenAPI schema hooks."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension

_DOC_PATHS = ("/api/v1/schema", "/api/v1/docs", "/api/v1/redoc")


def only_versioned_paths(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Document each endpoint once, under /api/v1/; the unprefixed TS paths are the same views."""
    return [ep for ep in endpoints if ep[0].startswith("/api/v1/") and not ep[0].startswith(_DOC_PATHS)]


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
