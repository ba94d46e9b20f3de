"""Request and response shapes of the transcription endpoints (contract 4.6)."""

from __future__ import annotations

import binascii
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mlservice.api.fields import StrictCharField, StrictChoiceField, StrictNumberField
from mlservice.api.serializers import ContractSerializer
from services.transcription.audio import OUTPUT_FORMATS
from services.transcription.output import RESPONSE_FORMATS
from services.transcription_service import COST_BACKENDS, SUPPORTED_FORMATS


# --- fields
class AudioUploadField(serializers.FileField):
    """A multipart file part. Emptiness and size are checked by the service (clear 400/413 bodies)."""

    default_error_messages = {
        "required": "must be an audio file upload (multipart field 'file')",
        "invalid": "must be an audio file upload (multipart field 'file')",
        "no_name": "must be an audio file upload with a file name",
        "empty": "should not be empty",
        "max_length": "file name is too long",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_empty_file", True)
        kwargs.setdefault("use_url", False)
        super().__init__(**kwargs)


@extend_schema_field(OpenApiTypes.INT)
class FormIntegerField(StrictNumberField):
    """An integer from a multipart form, where every value arrives as text."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["integer"] = True
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> int | float:
        if isinstance(data, str) and data.strip().lstrip("-").isdigit():
            data = int(data.strip())
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.BYTE)
class Base64AudioField(serializers.Field):
    """Standard, padded base64 (class-validator's IsBase64): decoded to bytes."""

    default_error_messages = {
        "invalid": "must be base64 encoded",
        "required": "must be base64 encoded",
        "null": "must be base64 encoded",
    }

    def to_internal_value(self, data: Any) -> bytes:
        if not isinstance(data, str) or len(data) % 4:
            self.fail("invalid")
        try:
            return binascii.a2b_base64(data, strict_mode=True)
        except (binascii.Error, ValueError):
            self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


# --- requests
class _TranscriptionOptionsSerializer(ContractSerializer):
    language = StrictCharField(required=False, help_text="ISO-639-1 code (en, es...); omitted: detect.")
    model = StrictCharField(
        required=False, help_text="whisper-1 (default), gpt-4o-transcribe, gpt-4o-mini-transcribe or whisper-tiny.en."
    )
    prompt = StrictCharField(required=False, help_text="Text to guide the style or vocabulary.")
    response_format = StrictChoiceField(list(RESPONSE_FORMATS), required=False, default="json")


class _UploadSerializer(ContractSerializer):
    file = AudioUploadField(required=False, help_text=f"The audio file ({', '.join(SUPPORTED_FORMATS)}).")
    audio = AudioUploadField(required=False, help_text="Alias of `file`.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "file" in attrs and "audio" in attrs:
            raise serializers.ValidationError({"file": "send the audio in one field: 'file' or 'audio', not both"})
        upload = attrs.pop("file", None) or attrs.pop("audio", None)
        if upload is None:
            raise serializers.ValidationError({"file": "must be an audio file upload (multipart field 'file')"})
        attrs["file"] = upload
        return attrs


class TranscribeFormSerializer(_UploadSerializer, _TranscriptionOptionsSerializer):
    pass


class Base64RequestSerializer(_TranscriptionOptionsSerializer):
    audio = Base64AudioField(help_text="Standard padded base64 of the audio file.")
    # 255: the longest file name a file system takes (NAME_MAX).
    filename = StrictCharField(max_length=255, help_text="Original file name; its extension names the format.")


class AudioPathRequestSerializer(_TranscriptionOptionsSerializer):
    file_path = StrictCharField(
        max_length=4096,  # PATH_MAX
        help_text="A file inside the server's upload folder (TRANSCRIPTION_UPLOAD_DIR).",
    )


class ConvertFormSerializer(_UploadSerializer):
    target_format = StrictChoiceField(
        list(OUTPUT_FORMATS),
        help_text="Output format.",
        error_messages={"required": f"must be one of the following values: {', '.join(OUTPUT_FORMATS)}"},
    )
    sample_rate = FormIntegerField(required=False, min_value=8000, max_value=192000)
    channels = FormIntegerField(required=False, min_value=1, max_value=2)
    bitrate = FormIntegerField(required=False, min_value=8000, max_value=512000, help_text="Bits per second.")


class EstimateCostRequestSerializer(ContractSerializer):
    duration_seconds = StrictNumberField(min_value=0, max_value=10_000_000)
    backend = StrictChoiceField(list(COST_BACKENDS), required=False, default="whisper-api")


class EstimateCostFormSerializer(_UploadSerializer):
    backend = StrictChoiceField(list(COST_BACKENDS), required=False, default="whisper-api")


# --- responses (documentation)
class TranscriptionSerializer(serializers.Serializer):
    text = serializers.CharField()
    language = serializers.CharField(allow_null=True, help_text="Whisper's language name, e.g. 'english'.")
    duration = serializers.FloatField(help_text="Seconds of audio.")
    model = serializers.CharField(help_text="The model that produced the text.")


class WordSerializer(serializers.Serializer):
    word = serializers.CharField()
    start = serializers.FloatField()
    end = serializers.FloatField()
    probability = serializers.FloatField(
        allow_null=True, required=False, help_text="In the top-level words list (not in a segment's)."
    )


class SegmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    start = serializers.FloatField()
    end = serializers.FloatField()
    text = serializers.CharField()
    avg_logprob = serializers.FloatField(required=False)
    no_speech_prob = serializers.FloatField(required=False)
    words = WordSerializer(many=True, required=False)


class VerboseTranscriptionSerializer(TranscriptionSerializer):
    task = serializers.CharField()
    language_code = serializers.CharField(allow_null=True)
    language_detected = serializers.BooleanField()
    language_probability = serializers.FloatField(allow_null=True, help_text="null for English-only models.")
    segments = SegmentSerializer(many=True)
    words = WordSerializer(many=True)


class TranscribeResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    transcription = TranscriptionSerializer(help_text="verbose_json adds segments, words and language details.")


class JobSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["queued", "running", "completed", "failed"])
    progress = serializers.FloatField(help_text="0..1, by chunks transcribed.")
    chunksDone = serializers.IntegerField()
    chunksTotal = serializers.IntegerField()
    filename = serializers.CharField()
    duration = serializers.FloatField()
    backend = serializers.CharField()
    model = serializers.CharField()
    responseFormat = serializers.CharField()
    statusUrl = serializers.CharField()
    createdAt = serializers.CharField()
    startedAt = serializers.CharField(allow_null=True)
    finishedAt = serializers.CharField(allow_null=True)
    transcription = VerboseTranscriptionSerializer(required=False, help_text="When completed.")
    output = serializers.CharField(required=False, help_text="When completed as text, srt or vtt.")
    error = serializers.CharField(required=False, help_text="When failed.")


class JobResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    job = JobSerializer()


class FormatsResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    formats = serializers.ListField(child=serializers.CharField())


class LanguageSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class LanguagesResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    languages = LanguageSerializer(many=True)


class TranscriptionHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    backend = serializers.CharField()
    model = serializers.CharField()
    available = serializers.BooleanField()
    languageDetection = serializers.BooleanField()
    backends = serializers.DictField()
    asyncThresholdSeconds = serializers.FloatField()
    maxUploadBytes = serializers.IntegerField()


class CostBreakdownSerializer(serializers.Serializer):
    transcription = serializers.FloatField()


class EstimateCostResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    backend = serializers.CharField()
    durationSeconds = serializers.FloatField()
    durationMinutes = serializers.FloatField()
    estimatedCost = serializers.FloatField(help_text="USD, rounded to 6 decimals.")
    currency = serializers.CharField()
    ratePerMinute = serializers.FloatField()
    breakdown = CostBreakdownSerializer()


# --- OpenAI's audio answers (transcription/openai_audio.py)
class OpenAIAudioUsageSerializer(serializers.Serializer):
    type = serializers.ChoiceField(["duration"])
    seconds = serializers.IntegerField(help_text="Seconds of audio, rounded up.")


class OpenAITranscriptionJSONSerializer(serializers.Serializer):
    """response_format json (the default) of /v1/audio/transcriptions."""

    text = serializers.CharField(allow_blank=True)
    usage = OpenAIAudioUsageSerializer()


class OpenAITranslationJSONSerializer(serializers.Serializer):
    """response_format json (the default) of /v1/audio/translations: the English text alone."""

    text = serializers.CharField(allow_blank=True)


class OpenAIWordSerializer(serializers.Serializer):
    word = serializers.CharField()
    start = serializers.FloatField()
    end = serializers.FloatField()


class OpenAISegmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    seek = serializers.IntegerField(help_text="The segment's start in 10 ms frames.")
    start = serializers.FloatField()
    end = serializers.FloatField()
    text = serializers.CharField(allow_blank=True)
    tokens = serializers.ListField(child=serializers.IntegerField(), help_text="Always empty (no token ids reported).")
    temperature = serializers.FloatField()
    avg_logprob = serializers.FloatField()
    compression_ratio = serializers.FloatField()
    no_speech_prob = serializers.FloatField()


class OpenAITranslationVerboseSerializer(serializers.Serializer):
    """response_format verbose_json of /v1/audio/translations."""

    task = serializers.ChoiceField(["translate"])
    language = serializers.CharField(help_text="The output's language: always 'english'.")
    duration = serializers.FloatField(help_text="Seconds of audio.")
    text = serializers.CharField(allow_blank=True)
    segments = OpenAISegmentSerializer(many=True, required=False, help_text="With the segment granularity (default).")


class OpenAITranscriptionVerboseSerializer(serializers.Serializer):
    """response_format verbose_json of /v1/audio/transcriptions."""

    task = serializers.ChoiceField(["transcribe"])
    language = serializers.CharField(allow_null=True, help_text="Whisper's language name, e.g. 'english'.")
    duration = serializers.FloatField(help_text="Seconds of audio.")
    text = serializers.CharField(allow_blank=True)
    segments = OpenAISegmentSerializer(many=True, required=False, help_text="With the segment granularity (default).")
    words = OpenAIWordSerializer(many=True, required=False, help_text="With the word granularity.")
    usage = OpenAIAudioUsageSerializer()
