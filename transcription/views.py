"""Transcription endpoints (contract 4.6): thin views over ``services.transcription_service``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from mlservice.api.parsers import ORJSONParser
from mlservice.api.serializers import ContractSerializer
from mlservice.api.views import ContractView
from mlservice.core.errors import NotFoundError
from mlservice.core.formatting import js_number
from services.transcription import output
from services.transcription.audio import OUTPUT_FORMATS
from services.transcription.types import transcript_from_dict
from services.transcription_service import AudioSource, TranscribeRequest, TranscriptionResult, TranscriptionService

from . import serializers as s
from .models import TranscriptionJob
from .uploads import form_data, install_upload_limit

_ERRORS = {
    400: OpenApiResponse(description="Invalid input, empty or undecodable audio"),
    413: OpenApiResponse(description="Audio file over TRANSCRIPTION_MAX_UPLOAD_BYTES"),
    415: OpenApiResponse(description="Unsupported audio format"),
    502: OpenApiResponse(description="The transcription provider answered with an error"),
    503: OpenApiResponse(description="No transcription backend is available"),
}
_TRANSCRIBE_RESPONSES = {
    201: s.TranscribeResponseSerializer,
    202: OpenApiResponse(s.JobResponseSerializer, description="Long audio: a background job was queued"),
    **_ERRORS,
}


def _validate(serializer_class: type[ContractSerializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _transcribe(source: AudioSource, data: dict[str, Any]) -> Response | HttpResponse:
    """The guide's service pattern: one service call, then the contract's rendering."""
    request = TranscribeRequest(
        model=data.get("model"),
        language=data.get("language"),
        prompt=data.get("prompt"),
        response_format=data["response_format"],
    )
    service = TranscriptionService.get_instance()
    return _transcription_response(async_to_sync(service.transcribe_audio)(source, request))


class _UploadView(ContractView):
    parser_classes = [MultiPartParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        install_upload_limit(request)


class TranscribeView(_UploadView):
    @extend_schema(
        request={"multipart/form-data": s.TranscribeFormSerializer},
        responses=_TRANSCRIBE_RESPONSES,
        summary="Transcribe an uploaded audio file (multipart field 'file'; alias 'audio')",
    )
    def post(self, request: Request) -> Response | HttpResponse:
        data = _validate(s.TranscribeFormSerializer, form_data(request))
        return _transcribe(AudioSource.from_upload(data["file"]), data)


class Base64TranscribeView(ContractView):
    @extend_schema(
        request=s.Base64RequestSerializer,
        responses=_TRANSCRIBE_RESPONSES,
        summary="Transcribe base64-encoded audio (JSON)",
    )
    def post(self, request: Request) -> Response | HttpResponse:
        data = self.validated(request, s.Base64RequestSerializer)
        return _transcribe(AudioSource.from_bytes(data["audio"], data["filename"] or "audio"), data)


class AudioPathTranscribeView(ContractView):
    @extend_schema(
        request=s.AudioPathRequestSerializer,
        responses={
            **_TRANSCRIBE_RESPONSES,
            403: OpenApiResponse(description="filePath is outside TRANSCRIPTION_UPLOAD_DIR"),
            404: OpenApiResponse(description="No such file in the upload folder"),
        },
        summary="Transcribe a file already in the server's upload folder",
    )
    def post(self, request: Request) -> Response | HttpResponse:
        data = self.validated(request, s.AudioPathRequestSerializer)
        return _transcribe(AudioSource.from_upload_folder(data["file_path"]), data)


class ConvertView(_UploadView):
    @extend_schema(
        request={"multipart/form-data": s.ConvertFormSerializer},
        responses={
            (201, "audio/*"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The converted audio file (audio/wav, audio/flac, audio/mpeg, ...)"
            ),
            **_ERRORS,
        },
        summary="Convert an audio file to another format (returns the file)",
    )
    def post(self, request: Request) -> FileResponse:
        data = _validate(s.ConvertFormSerializer, form_data(request))
        service = TranscriptionService.get_instance()
        converted = async_to_sync(service.convert_audio)(
            AudioSource.from_upload(data["file"]),
            data["target_format"],
            sample_rate=data.get("sample_rate"),
            channels=data.get("channels"),
            bitrate=data.get("bitrate"),
        )
        fmt, info = converted.target_format, converted.info
        response = FileResponse(
            converted.handle,
            status=status.HTTP_201_CREATED,
            as_attachment=True,
            filename=f"{Path(converted.filename).stem or 'audio'}.{fmt}",
            content_type=OUTPUT_FORMATS[fmt].mime_type,
        )
        response["X-Audio-Duration"] = f"{info.duration:.3f}"
        response["X-Audio-Sample-Rate"] = str(info.sample_rate)
        response["X-Audio-Channels"] = str(info.channels)
        return response


class EstimateCostView(ContractView):
    parser_classes = [ORJSONParser, MultiPartParser]

    @extend_schema(
        request={
            "application/json": s.EstimateCostRequestSerializer,
            "multipart/form-data": s.EstimateCostFormSerializer,
        },
        responses={201: s.EstimateCostResponseSerializer, **_ERRORS},
        summary="Estimate the cost of transcribing audio ($0.006/min on whisper-api) from a duration or a file",
    )
    def post(self, request: Request) -> Response:
        service = TranscriptionService.get_instance()
        if request.content_type.startswith("multipart/"):
            install_upload_limit(request)
            data = _validate(s.EstimateCostFormSerializer, form_data(request))
            # A file's duration is measured by decoding it.
            estimate = {"source": AudioSource.from_upload(data["file"])}
        else:
            data = self.validated(request, s.EstimateCostRequestSerializer)
            estimate = {"duration_seconds": data["duration_seconds"]}
        body = async_to_sync(service.estimate_audio_cost)(data["backend"], **estimate)
        body = {key: js_number(value) if isinstance(value, float) else value for key, value in body.items()}
        return self.created({"success": True, **body})


class FormatsView(ContractView):
    @extend_schema(responses=s.FormatsResponseSerializer, summary="Supported audio formats")
    def get(self, request: Request) -> Response:
        return Response({"success": True, "formats": TranscriptionService.get_instance().formats()})


class LanguagesView(ContractView):
    @extend_schema(responses=s.LanguagesResponseSerializer, summary="Languages offered to clients")
    def get(self, request: Request) -> Response:
        return Response({"success": True, "languages": TranscriptionService.get_instance().languages()})


class TranscriptionHealthView(ContractView):
    @extend_schema(responses=s.TranscriptionHealthSerializer, summary="Transcription backend status")
    def get(self, request: Request) -> Response:
        return Response(TranscriptionService.get_instance().health())


class JobView(ContractView):
    @extend_schema(
        responses={200: s.JobResponseSerializer, 404: OpenApiResponse(description="No such job")},
        summary="Status, progress and (when done) result of a background transcription job",
    )
    def get(self, request: Request, job_id: Any) -> Response:
        job = TranscriptionJob.objects.filter(pk=job_id).first()
        if job is None:
            raise NotFoundError(f"Transcription job {job_id} not found")
        return Response({"success": True, "job": _job_body(request, job)})


# --- helpers
def _transcription_response(result: TranscriptionResult) -> Response | HttpResponse:
    if result.job is not None:
        body = {"success": True, "job": _job_body(None, result.job)}
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": _status_url(result.job)})
    transcript, response_format = result.transcript, result.response_format
    if response_format in output.CONTENT_TYPES:
        return HttpResponse(
            output.render(transcript, response_format),
            status=status.HTTP_201_CREATED,
            content_type=output.CONTENT_TYPES[response_format],
        )
    body = output.as_verbose(transcript) if response_format == "verbose_json" else output.as_json(transcript)
    return Response({"success": True, "transcription": body}, status=status.HTTP_201_CREATED)


def _status_url(job: TranscriptionJob) -> str:
    return f"/api/v1/transcription/jobs/{job.id}"


def _job_body(request: Request | None, job: TranscriptionJob) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(job.id),
        "status": job.status,
        "progress": js_number(job.progress),
        "chunksDone": job.chunks_done,
        "chunksTotal": job.chunks_total,
        "filename": job.filename,
        "duration": js_number(round(job.duration, 3)),
        "backend": job.backend,
        "model": job.model,
        "responseFormat": job.response_format,
        "statusUrl": _status_url(job),
        "createdAt": _iso(job.created_at),
        "startedAt": _iso(job.started_at),
        "finishedAt": _iso(job.finished_at),
    }
    if job.status == TranscriptionJob.Status.COMPLETED and job.result:
        transcript = transcript_from_dict(job.result)
        body["transcription"] = output.as_verbose(transcript)
        if job.response_format in output.CONTENT_TYPES:
            body["output"] = output.render(transcript, job.response_format)
    if job.status == TranscriptionJob.Status.FAILED:
        body["error"] = job.error
    return body


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
