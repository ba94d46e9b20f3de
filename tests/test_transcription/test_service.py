"""The guide's service pattern for transcription: one service call behind every transcribing view."""

from __future__ import annotations

from unittest.mock import AsyncMock, MagicMock, patch

from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile

from services.transcription import output
from services.transcription.types import Transcript
from services.transcription_service import (
    AudioSource,
    TranscribeRequest,
    TranscriptionResult,
    TranscriptionService,
)
from transcription.models import TranscriptionJob

from .conftest import leftover_files
from .test_transcribe import upload


def test_one_service_call_gives_the_http_routes_transcript(api, librispeech, transcription_settings):
    utterance = librispeech[0]
    http = upload(api, utterance.path)
    assert http.status_code == 200, http.content

    service = TranscriptionService.get_instance()
    assert service is TranscriptionService.get_instance()  # process-wide
    source = AudioSource.from_upload(SimpleUploadedFile(utterance.path.name, utterance.path.read_bytes()))
    result = async_to_sync(service.transcribe_audio)(source, TranscribeRequest())
    assert result.job is None and result.response_format == "json"
    assert output.as_json(result.transcript) == http.json()["transcription"]
    # The same bytes as base64 audio (no file name to check), through the sync twin.
    from_bytes = service.transcribe_source(
        AudioSource.from_bytes(utterance.path.read_bytes(), "clip.wav"), TranscribeRequest()
    )
    assert from_bytes.transcript.text == http.json()["transcription"]["text"]
    assert leftover_files(transcription_settings) == []


def test_long_audio_becomes_a_job_row_through_the_same_call(librispeech, settings, transcription_settings):
    settings.TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS = 1.0
    utterance = librispeech[0]
    source = AudioSource.from_upload(SimpleUploadedFile(utterance.path.name, utterance.path.read_bytes()))
    service = TranscriptionService.get_instance()
    result = async_to_sync(service.transcribe_audio)(source, TranscribeRequest(response_format="srt"))
    assert result.transcript is None
    # The ORM work ran back in this thread (sync_to_async, thread-sensitive): the row is visible here.
    job = TranscriptionJob.objects.get(pk=result.job.id)
    assert job.status == TranscriptionJob.Status.COMPLETED  # the eager runner (tests) ran it inline
    assert job.response_format == "srt"
    assert job.result["text"].strip()
    assert leftover_files(transcription_settings) == []


def test_view_returns_the_mocked_service_result(api):
    """Like tests/test_guide_example.py: the view is a few lines around the service's one call."""
    transcript = Transcript(text="mocked words", language="en", duration=1.5, model="whisper-mock")
    with patch("transcription.views.TranscriptionService") as MockService:
        mock_instance = MagicMock()
        mock_instance.transcribe_audio = AsyncMock(return_value=TranscriptionResult("json", transcript=transcript))
        MockService.get_instance.return_value = mock_instance

        response = api.post(
            "/api/v1/transcription/transcribe",
            {"file": SimpleUploadedFile("clip.wav", b"RIFF not decoded: the service is a mock"), "language": "en"},
            format="multipart",
        )

    assert response.status_code == 200, response.content
    assert response.json() == {
        "success": True,
        "transcription": {"text": "mocked words", "language": "english", "duration": 1.5, "model": "whisper-mock"},
    }
    source, request = mock_instance.transcribe_audio.await_args.args
    assert source.filename == "clip.wav"
    assert request == TranscribeRequest(language="en", response_format="json")
