"""Upload plumbing for multipart views: size limit while streaming, and form data as a plain dict."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from rest_framework.request import Request

from mlservice.core.errors import PayloadTooLarge

# Room for the multipart boundaries and the small text fields next to the file.
_FORM_OVERHEAD_BYTES = 64 * 1024


class UploadLimitHandler(FileUploadHandler):
    """Rejects an upload over TRANSCRIPTION_MAX_UPLOAD_BYTES with 413 before (or while) it is read.

    Placed first in the handler chain: a declared Content-Length over the limit is refused before
    any byte is written to disk; without one, the stream is cut as soon as the file passes it.
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = settings.TRANSCRIPTION_MAX_UPLOAD_BYTES
        self.exceeded_at: int | None = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit + _FORM_OVERHEAD_BYTES:
            raise PayloadTooLarge(_too_large(content_length, self.limit))
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            # StopUpload (not an exception of ours) makes Django close, and so delete, the partial
            # temporary file; the view turns the flag into the 413.
            self.exceeded_at = start + len(raw_data)
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def install_upload_limit(request: Request) -> None:
    handler = UploadLimitHandler(request._request)
    request._request.upload_handlers.insert(0, handler)
    request._request._upload_limit_handler = handler


def form_data(request: Request) -> dict[str, Any]:
    """Multipart fields and files as one dict (last value wins), for a ContractSerializer."""
    data = request.data
    handler = getattr(request._request, "_upload_limit_handler", None)
    if handler is not None and handler.exceeded_at is not None:
        raise PayloadTooLarge(_too_large(handler.exceeded_at, handler.limit, at_least=True))
    if hasattr(data, "keys") and hasattr(data, "getlist"):
        return {key: data.get(key) for key in data.keys()}
    return dict(data)


def _too_large(size: int, limit: int, at_least: bool = False) -> str:
    qualifier = "more than " if at_least else ""
    return f"Audio file is too large: {qualifier}{size} bytes (limit {limit} bytes)"
