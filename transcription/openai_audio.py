"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations`` in OpenAI's own multipart format.

The same service as ``/transcription/transcribe`` (engine choice, upload and duration limits, the
``local-whisper`` model gate's 503 + Retry-After, window-by-window decoding) and the same
renderers (``services.transcription.output``); only the wire format is OpenAI's:

- fields ``file``, ``model``, ``language``, ``prompt``, ``response_format`` (json, text, srt,
  verbose_json, vtt), ``timestamp_granularities[]`` (segment, word) and ``temperature``; fields
  this service does not use are accepted and ignored, as OpenAI-compatible servers do;
- answers are 200 with OpenAI's bodies (``{"text"}``, ``verbose_json`` with ``segments`` and, when
  asked for, ``words``; text, srt and vtt as plain text);
- every error is OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}`` (the /v1
  exception handler), naming the offending field in ``param``.

OpenAI's API has no background jobs, so audio is transcribed within the request, up to
``TRANSCRIPTION_SYNC_MAX_SECONDS``; longer audio is a 413 pointing at ``/transcription/transcribe``,
which queues a job.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from typing import Any

from asgiref.sync import async_to_sync
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from embeddings.serializers import OpenAIErrorSerializer
from mlservice.api.views import OpenAIView
from mlservice.core.errors import BadRequest
from services.transcription import output
from services.transcription.output import RESPONSE_FORMATS
from services.transcription.types import Transcript
from services.transcription_service import SUPPORTED_FORMATS, AudioSource, TranscribeRequest, TranscriptionService

from . import serializers as s
from .uploads import form_data, install_upload_limit

GRANULARITIES = ("segment", "word")
_GRANULARITIES_FIELD = "timestamp_granularities[]"


@dataclasses.dataclass(frozen=True)
class AudioRequest:
    upload: Any
    model: str | None
    language: str | None
    prompt: str | None
    response_format: str
    granularities: tuple[str, ...]
    temperature: float | None


def parse_form(request: Request, task: str) -> AudioRequest:
    """OpenAI's multipart fields, checked; raises ``BadRequest`` naming the field (``param``)."""
    fields = form_data(request)  # raises the 413 when the upload passed TRANSCRIPTION_MAX_UPLOAD_BYTES
    upload = fields.get("file")
    if not hasattr(upload, "size") or not getattr(upload, "name", None):
        raise BadRequest("file must be an audio file upload (multipart field 'file')", param="file")
    if _text(fields, "stream", "false").lower() not in ("false", "0", ""):
        raise BadRequest(
            "stream: streamed transcription is not supported by this server; send stream=false", param="stream"
        )
    response_format = _text(fields, "response_format", "json")
    if response_format not in RESPONSE_FORMATS:
        raise BadRequest(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}", param="response_format")
    granularities = _granularities(request, fields)
    if granularities and response_format != "verbose_json":
        raise BadRequest(
            "timestamp_granularities[] needs response_format=verbose_json", param="timestamp_granularities"
        )
    if task == "translate" and "word" in granularities:
        raise BadRequest("translations have no word timestamps (OpenAI's neither)", param="timestamp_granularities")
    return AudioRequest(
        upload=upload,
        model=_text(fields, "model") or None,
        # OpenAI's translations take no language: the source is detected (the output is English).
        language=(_text(fields, "language") or None) if task == "transcribe" else None,
        prompt=_text(fields, "prompt") or None,
        response_format=response_format,
        granularities=granularities or ("segment",),
        temperature=_temperature(fields),
    )


def _text(fields: dict[str, Any], name: str, default: str = "") -> str:
    value = fields.get(name, default)
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a text field, not a file", param=name)
    return value.strip()


def _granularities(request: Request, fields: dict[str, Any]) -> tuple[str, ...]:
    # The SDK sends the list as repeated "timestamp_granularities[]" parts; curl users often omit "[]".
    data = request.data
    values = [*data.getlist(_GRANULARITIES_FIELD), *data.getlist("timestamp_granularities")]
    if any(not isinstance(value, str) or value.strip() not in GRANULARITIES for value in values):
        raise BadRequest(
            f"timestamp_granularities[] items must be one of {', '.join(GRANULARITIES)}",
            param="timestamp_granularities",
        )
    return tuple(g for g in GRANULARITIES if g in {value.strip() for value in values})


def _temperature(fields: dict[str, Any]) -> float | None:
    raw = _text(fields, "temperature")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails too
        raise BadRequest("temperature must be a number between 0 and 1", param="temperature")
    return value


class _OpenAIAudioView(OpenAIView):
    parser_classes = [MultiPartParser]
    task = "transcribe"

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        install_upload_limit(request)

    def post(self, request: Request) -> HttpResponse | Response:
        form = parse_form(request, self.task)
        audio_request = TranscribeRequest(
            model=form.model,
            language=form.language,
            prompt=form.prompt,
            response_format=form.response_format,
            task=self.task,
            # Word timings cost decoding time: only when the client asked for them.
            word_timestamps="word" in form.granularities,
            temperature=form.temperature,
            sync_only=True,  # OpenAI's API has no background jobs
            name_params=True,  # errors name their field in OpenAI's envelope
        )
        service = TranscriptionService.get_instance()
        result = async_to_sync(service.transcribe_audio)(AudioSource.from_upload(form.upload), audio_request)
        return _render(result.transcript, form, self.task)


def _render(transcript: Transcript, form: AudioRequest, task: str) -> HttpResponse | Response:
    if form.response_format in output.CONTENT_TYPES:  # text, srt, vtt
        body = output.render(transcript, form.response_format)
        return HttpResponse(body, status=200, content_type=output.CONTENT_TYPES[form.response_format])
    usage = {"type": "duration", "seconds": math.ceil(transcript.duration)}
    if form.response_format == "json":
        # OpenAI's Transcription carries usage; its Translation is the text alone.
        return Response({"text": transcript.text, **({"usage": usage} if task == "transcribe" else {})})
    return Response(verbose_body(transcript, task, form.granularities, form.temperature, usage))


def verbose_body(
    transcript: Transcript,
    task: str,
    granularities: tuple[str, ...],
    temperature: float | None,
    usage: dict[str, Any],
) -> dict[str, Any]:
    """OpenAI's verbose_json, built from the native renderer's (``output.as_verbose``)."""
    native = output.as_verbose(transcript)
    body: dict[str, Any] = {
        "task": task,
        # A translation's language is its output's: always English (OpenAI's TranslationVerbose).
        "language": "english" if task == "translate" else native["language"],
        "duration": native["duration"],
        "text": native["text"],
    }
    if "segment" in granularities:
        body["segments"] = [_openai_segment(segment, temperature) for segment in native["segments"]]
    if "word" in granularities:
        body["words"] = [{"word": w["word"], "start": w["start"], "end": w["end"]} for w in native["words"]]
    if task == "transcribe":
        body["usage"] = usage
    return body


def _openai_segment(segment: dict[str, Any], temperature: float | None) -> dict[str, Any]:
    text = segment["text"]
    return {
        "id": segment["id"],
        # Whisper's seek: the offset of the segment's window in 10 ms frames (here: of the segment).
        "seek": round(segment["start"] * 100),
        "start": segment["start"],
        "end": segment["end"],
        "text": text,
        "tokens": [],  # the engines do not report token ids
        "temperature": temperature or 0.0,
        "avg_logprob": segment.get("avg_logprob", 0.0),
        "compression_ratio": _compression_ratio(text),
        "no_speech_prob": segment.get("no_speech_prob", 0.0),
    }


def _compression_ratio(text: str) -> float:
    """Whisper's own measure (text bytes over their zlib size): high values flag repetition loops."""
    data = text.encode("utf-8")
    return round(len(data) / len(zlib.compress(data)), 4) if data else 0.0


# --- OpenAPI schema
class OpenAIAudioFormSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"The audio file ({', '.join(SUPPORTED_FORMATS)}).")
    model = serializers.CharField(
        required=False,
        help_text="whisper-1 (served by the local Whisper when no OPENAI_API_KEY is set), the local model's name "
        "(GET /v1/models), gpt-4o-transcribe or gpt-4o-mini-transcribe (OpenAI only).",
    )
    prompt = serializers.CharField(required=False, help_text="Text to guide the style or vocabulary.")
    response_format = serializers.ChoiceField(list(RESPONSE_FORMATS), required=False, default="json")
    temperature = serializers.FloatField(required=False, min_value=0, max_value=1)


class OpenAITranscriptionFormSerializer(OpenAIAudioFormSerializer):
    language = serializers.CharField(required=False, help_text="ISO-639-1 code of the audio; omitted: detected.")
    timestamp_granularities = serializers.ListField(
        child=serializers.ChoiceField(list(GRANULARITIES)),
        required=False,
        help_text="Sent as repeated `timestamp_granularities[]` parts; needs response_format=verbose_json.",
    )


_TEXT_RESPONSES = {
    (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="response_format text: the text and a newline"),
    (200, "application/x-subrip"): OpenApiResponse(OpenApiTypes.STR, description="response_format srt"),
    (200, "text/vtt"): OpenApiResponse(OpenApiTypes.STR, description="response_format vtt (WebVTT)"),
}
_ERRORS = {
    400: OpenApiResponse(OpenAIErrorSerializer, description="Invalid field (`param` names it) or undecodable audio"),
    413: OpenApiResponse(
        OpenAIErrorSerializer,
        description="Over TRANSCRIPTION_MAX_UPLOAD_BYTES, TRANSCRIPTION_MAX_DURATION_SECONDS or TRANSCRIPTION_SYNC_MAX_SECONDS",
    ),
    503: OpenApiResponse(
        OpenAIErrorSerializer, description="No engine available, or the local model is busy (Retry-After)"
    ),
}


def _json_response(name: str, plain: type[serializers.Serializer], verbose: type[serializers.Serializer]) -> Any:
    return OpenApiResponse(
        PolymorphicProxySerializer(
            component_name=name, serializers=[plain, verbose], resource_type_field_name=None, many=False
        ),
        description="response_format json (the default) or verbose_json (`segments` with the segment granularity, "
        "the default; `words` with the word granularity); response_format text, srt or vtt: the text as "
        "text/plain, application/x-subrip or text/vtt",
    )


_TRANSCRIPTION_RESPONSES = {
    (200, "application/json"): _json_response(
        "OpenAITranscriptionResponse", s.OpenAITranscriptionJSONSerializer, s.OpenAITranscriptionVerboseSerializer
    ),
    **_TEXT_RESPONSES,
    **_ERRORS,
}
_TRANSLATION_RESPONSES = {
    (200, "application/json"): _json_response(
        "OpenAITranslationResponse", s.OpenAITranslationJSONSerializer, s.OpenAITranslationVerboseSerializer
    ),
    **_TEXT_RESPONSES,
    **_ERRORS,
}


class OpenAITranscriptionsView(_OpenAIAudioView):
    task = "transcribe"

    @extend_schema(
        operation_id="v1_audio_transcriptions_create",
        request={"multipart/form-data": OpenAITranscriptionFormSerializer},
        responses=_TRANSCRIPTION_RESPONSES,
        summary="OpenAI-compatible speech to text (official OpenAI clients work against it)",
    )
    def post(self, request: Request) -> HttpResponse | Response:
        return super().post(request)


class OpenAITranslationsView(_OpenAIAudioView):
    task = "translate"

    @extend_schema(
        operation_id="v1_audio_translations_create",
        request={"multipart/form-data": OpenAIAudioFormSerializer},
        responses=_TRANSLATION_RESPONSES,
        summary="OpenAI-compatible speech to English text, from any language (needs a multilingual Whisper)",
    )
    def post(self, request: Request) -> HttpResponse | Response:
        return super().post(request)
