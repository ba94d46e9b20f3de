"""OpenAPI schema hooks."""

from __future__ import annotations

from typing import Any

_DOC_PATHS = ("/api/v1/schema", "/api/v1/docs", "/api/v1/redoc")


def only_versioned_paths(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """Document each endpoint once, under /api/v1/; the unprefixed TS paths are the same views."""
    return [ep for ep in endpoints if ep[0].startswith("/api/v1/") and not ep[0].startswith(_DOC_PATHS)]
