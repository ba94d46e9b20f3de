"""POST /rag/documents: multipart upload of PDF, DOCX, HTML, Markdown and text files into a collection.

The view reads the form, streams the files under the size limits (413 as soon as one is passed),
extracts their text (``services.documents``) and hands them to ``RAGService.index_files``, which
chunks, embeds and stores every file of the request in one atomic write: a request is
all-or-nothing (one unreadable file and nothing of the request is stored; what was stored before
stays).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from mlservice.api.fields import StrictCharField, StrictNumberField
from mlservice.api.serializers import ContractSerializer
from mlservice.api.views import ContractView
from mlservice.core.errors import BadRequest, PayloadTooLarge
from services import documents, rag_service
from services.documents import UnreadableDocument
from services.rag_service import FileInput, RAGService

# Room for the multipart boundaries and the small text fields next to the files.
_FORM_OVERHEAD_BYTES = 64 * 1024
FILE_FIELDS = ("files", "file")
UPLOAD_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://synthstack.dev/rag/upload")


class DocumentUploadLimit(FileUploadHandler):
    """413 for a file over RAG_UPLOAD_MAX_FILE_BYTES or a request over RAG_UPLOAD_MAX_REQUEST_BYTES,
    before (declared Content-Length) or while (streamed) the body is read; first in the chain, so
    nothing past the limit reaches a temporary file."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.file_limit = settings.RAG_UPLOAD_MAX_FILE_BYTES
        self.request_limit = settings.RAG_UPLOAD_MAX_REQUEST_BYTES
        self.received = 0
        self.problem: str | None = None

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.request_limit + _FORM_OVERHEAD_BYTES:
            raise PayloadTooLarge(
                f"Upload is too large: {content_length} bytes (RAG_UPLOAD_MAX_REQUEST_BYTES is {self.request_limit})"
            )
        return None

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if start + len(raw_data) > self.file_limit:
            self.problem = f"{self.file_name}: more than {self.file_limit} bytes (RAG_UPLOAD_MAX_FILE_BYTES)"
        elif self.received > self.request_limit:
            self.problem = f"Upload is larger than {self.request_limit} bytes (RAG_UPLOAD_MAX_REQUEST_BYTES)"
        if self.problem:
            # StopUpload makes Django close, and so delete, the partial temporary file.
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class _FormIntegerField(StrictNumberField):
    """An integer from a multipart form, where every value arrives as text."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["integer"] = True
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int | float:
        if isinstance(data, str) and data.strip().isdigit():
            data = int(data.strip())
        return super().to_internal_value(data)


class _JSONObjectField(serializers.Field):
    default_error_messages = {"invalid": "must be a JSON object (a string holding {{...}})"}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            return data
        try:
            value = json.loads(data) if isinstance(data, str | bytes) else None
        except ValueError:
            value = None
        if not isinstance(value, dict):
            self.fail("invalid")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class DocumentUploadFormSerializer(ContractSerializer):
    """The form's text fields (the files are read from ``files``/``file``)."""

    collection = StrictCharField(required=False, default="default")
    metadata = _JSONObjectField(required=False, default=dict, help_text="JSON object added to every chunk's metadata")
    chunk_size = _FormIntegerField(required=False, default=1000, min_value=100, max_value=10000)
    chunk_overlap = _FormIntegerField(required=False, default=200, min_value=0, max_value=1000)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("chunk_overlap", 200) >= attrs.get("chunk_size", 1000):
            raise serializers.ValidationError({"chunk_overlap": ["must be smaller than chunkSize"]})
        return attrs


class DocumentUploadSchemaSerializer(serializers.Serializer):
    """OpenAPI only: the multipart form as clients send it."""

    files = serializers.ListField(
        child=serializers.FileField(),
        help_text="One or more files (repeat the field): PDF, DOCX, HTML, Markdown or plain text; `file` also works",
    )
    collection = serializers.CharField(required=False, default="default")
    metadata = serializers.CharField(required=False, help_text='JSON object, e.g. {"team": "docs"}, on every chunk')
    chunkSize = serializers.IntegerField(required=False, default=1000, min_value=100, max_value=10000)
    chunkOverlap = serializers.IntegerField(required=False, default=200, min_value=0, max_value=1000)


class UploadedDocumentSerializer(serializers.Serializer):
    filename = serializers.CharField()
    documentId = serializers.CharField()
    format = serializers.ChoiceField(documents.FORMATS)
    pages = serializers.IntegerField(allow_null=True)
    characters = serializers.IntegerField()
    chunksCreated = serializers.IntegerField()


class DocumentUploadResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()
    collection = serializers.CharField()
    documents = UploadedDocumentSerializer(many=True)
    chunksCreated = serializers.IntegerField()


def upload_document_id(filename: str, data: bytes) -> str:
    """The same file (name and bytes) uploaded again replaces its chunks instead of duplicating them."""
    return str(uuid.uuid5(UPLOAD_NAMESPACE, f"{filename}\0{hashlib.sha256(data).hexdigest()}"))


class DocumentsUploadView(ContractView):
    parser_classes = [MultiPartParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            handler = DocumentUploadLimit(request._request)
            request._request.upload_handlers.insert(0, handler)
            request._request._document_upload_limit = handler

    @extend_schema(
        request={"multipart/form-data": DocumentUploadSchemaSerializer},
        responses={
            201: DocumentUploadResponseSerializer,
            400: OpenApiResponse(description="Invalid form fields or no file"),
            413: OpenApiResponse(
                description="A file, the request, a PDF's pages or a file's text over its limit "
                "(RAG_UPLOAD_MAX_FILE_BYTES, RAG_UPLOAD_MAX_REQUEST_BYTES, RAG_UPLOAD_MAX_FILES, "
                "RAG_DOCUMENT_MAX_PAGES, RAG_DOCUMENT_MAX_CHARS)"
            ),
            415: OpenApiResponse(description="A file that is not PDF, DOCX, HTML, Markdown or text"),
            422: OpenApiResponse(description="A corrupt or encrypted PDF/DOCX, or a file without text"),
        },
        summary="Upload files (PDF, DOCX, HTML, Markdown, text) into a collection: chunked, all or nothing",
    )
    def post(self, request: Request) -> Response:
        form = request.data  # parses the body (the upload limit raises or flags here)
        handler = getattr(request._request, "_document_upload_limit", None)
        if handler is not None and handler.problem:
            raise PayloadTooLarge(handler.problem)
        uploads = [upload for name in FILE_FIELDS for upload in request.FILES.getlist(name)]
        unknown = sorted(set(request.FILES) - set(FILE_FIELDS))
        if unknown:
            raise BadRequest(f"property {unknown[0]} should not exist (send files as 'files')")
        if not uploads:
            raise BadRequest("files must be one or more file uploads (multipart field 'files')")
        if len(uploads) > settings.RAG_UPLOAD_MAX_FILES:
            raise PayloadTooLarge(
                f"{len(uploads)} files, more than RAG_UPLOAD_MAX_FILES ({settings.RAG_UPLOAD_MAX_FILES})"
            )
        data = self.validated_form(form)
        rag_service.validate_collection_name(data["collection"])  # before the (slower) extraction
        files: list[FileInput] = []
        extracted: list[documents.ExtractedDocument] = []
        for upload in uploads:
            name = upload.name or "upload"
            raw = upload.read()
            fmt = documents.detect_format(raw, filename=name, content_type=upload.content_type or "")
            document = documents.extract_text(raw, fmt, name=name)
            if not document.text.strip():
                raise UnreadableDocument(f"{name}: no text found (a scanned PDF needs OCR first)")
            extracted.append(document)
            files.append(FileInput(upload_document_id(name, raw), name, document.text, fmt))
        counts = async_to_sync(RAGService.get_instance().add_files)(
            data["collection"],
            files,
            chunk_size=int(data["chunk_size"]),
            chunk_overlap=int(data["chunk_overlap"]),
            extra_metadata=data["metadata"],
        )
        described = [
            {
                "filename": file.filename,
                "documentId": file.document_id,
                "format": document.format,
                "pages": document.pages,
                "characters": len(document.text),
                "chunksCreated": count,
            }
            for file, document, count in zip(files, extracted, counts, strict=True)
        ]
        return self.created(
            {
                "success": True,
                "message": f"{len(files)} documents indexed successfully",
                "collection": data["collection"],
                "documents": described,
                "chunksCreated": sum(counts),
            }
        )

    def validated_form(self, form: Any) -> dict[str, Any]:
        fields = {key: form.get(key) for key in form.keys() if key not in FILE_FIELDS}
        return self.validated_data_of(DocumentUploadFormSerializer, fields)

    @staticmethod
    def validated_data_of(serializer_class: type[ContractSerializer], fields: dict[str, Any]) -> dict[str, Any]:
        serializer = serializer_class(data=fields)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)
