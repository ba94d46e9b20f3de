from __future__ import annotations

from typing import Any

import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from mlservice.core.errors import PayloadTooLarge

# The raw body is kept on the Django request so the request log can store it without re-reading
# a stream DRF has already consumed.
RAW_BODY_ATTRIBUTE = "_mlservice_raw_body"


class ORJSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            # DRF reads the stream itself, so Django's own size check never fires: enforce it here.
            raise PayloadTooLarge("Request body is too large")
        request = (parser_context or {}).get("request")
        if request is not None:
            setattr(request._request, RAW_BODY_ATTRIBUTE, raw)
        if not raw.strip():
            return {}
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc
