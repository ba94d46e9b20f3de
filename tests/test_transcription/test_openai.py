"""The OpenAI engine through the official SDK against a fake audio-transcriptions server."""

from __future__ import annotations

import base64
import socket

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

TRANSCRIBE = "/api/v1/transcription/transcribe"


def _upload(api, utterance, name="clip.flac", **fields):
    file = SimpleUploadedFile(name, utterance.path.read_bytes())
    return api.post(TRANSCRIBE, {"file": file, **fields}, format="multipart")


def test_whisper_1_request_and_response(api, fake_openai, librispeech):
    response = _upload(api, librispeech[0], language="en", prompt="Dinner menu.")
    assert response.status_code == 200, response.content
    assert response.json()["transcription"] == {
        "text": " ".join(["tick"] * 21),  # the fake's answer for 10.4 s of audio
        "language": "english",
        "duration": 10.435,
        "model": "whisper-1",
    }
    (sent,) = fake_openai.requests
    assert sent["authorization"] == "Bearer sk-test-transcription"
    assert sent["model"] == "whisper-1"
    assert sent["language"] == "en" and sent["prompt"] == "Dinner menu."
    assert sent["response_format"] == "verbose_json"
    assert sent["timestamp_granularities"] == ["segment", "word"]
    assert (sent["filename"], sent["file_type"]) == ("clip.flac", "audio/flac")
    assert sent["file_bytes"] == librispeech[0].path.read_bytes()


def test_verbose_json_carries_openai_segments_and_words(api, fake_openai, librispeech):
    body = _upload(api, librispeech[3], response_format="verbose_json").json()["transcription"]
    assert body["language_code"] == "en" and body["language_detected"] is True
    assert len(body["segments"]) == 1 and body["segments"][0]["words"]
    assert len(body["words"]) == 11 and body["words"][0] == {
        "word": "tick",
        "start": 0.1,
        "end": 0.4,
        "probability": None,
    }


def test_gpt_4o_transcribe_asks_for_json_and_does_not_invent_a_language(api, fake_openai, librispeech):
    response = _upload(api, librispeech[2], model="gpt-4o-transcribe")
    assert response.status_code == 200
    assert response.json()["transcription"] == {
        "text": "hello from the fake whisper server",
        "language": None,
        "duration": 2.085,
        "model": "gpt-4o-transcribe",
    }
    assert fake_openai.requests[0]["response_format"] == "json"
    assert "timestamp_granularities" not in fake_openai.requests[0]


def test_base64_goes_to_openai_with_the_contract_mime_type(post_json, fake_openai, librispeech):
    encoded = base64.b64encode(librispeech[2].path.read_bytes()).decode()
    response = post_json("/transcription/audio/base64", {"audio": encoded, "filename": "memo.oga"})
    assert response.status_code == 201
    assert (fake_openai.requests[0]["filename"], fake_openai.requests[0]["file_type"]) == ("memo.oga", "audio/ogg")


def test_local_model_can_still_be_asked_for_by_name(api, fake_openai, librispeech):
    response = _upload(api, librispeech[2], model="whisper-tiny.en")
    assert response.status_code == 200
    assert response.json()["transcription"]["model"] == "whisper-tiny.en"
    assert fake_openai.requests == []


def test_health_with_a_key(api, fake_openai):
    body = api.get("/transcription/health").json()
    assert {k: body[k] for k in ("status", "backend", "model", "available")} == {
        "status": "ok",
        "backend": "whisper-api",
        "model": "whisper-1",
        "available": True,
    }
    assert body["languageDetection"] is True


@pytest.mark.parametrize(
    ("mode", "status", "prefix"),
    [
        ("401", 503, "OpenAI rejected the credentials (401): fake failure 401"),
        ("429", 503, "OpenAI is rate limiting transcription requests (429)"),
        ("500", 502, "OpenAI transcription failed (500): fake failure 500"),
        ("400", 400, "OpenAI rejected the transcription request (400)"),
    ],
)
def test_provider_errors_map_to_400_502_and_503(api, fake_openai, librispeech, mode, status, prefix):
    fake_openai.mode = mode
    response = _upload(api, librispeech[2])
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False and body["statusCode"] == status
    assert body["error"].startswith(prefix)


def test_unreachable_provider_is_503(api, settings, librispeech):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again at once: nothing listens there
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    response = _upload(api, librispeech[2])
    assert response.status_code == 503
    assert response.json()["error"].startswith("OpenAI could not be reached")


def test_forced_openai_backend_without_key_is_503(api, settings, librispeech):
    settings.TRANSCRIPTION_BACKEND = "openai"
    response = _upload(api, librispeech[2])
    assert response.status_code == 503
    assert response.json() == {
        "success": False,
        "error": "OpenAI client not initialized - check OPENAI_API_KEY",
        "statusCode": 503,
    }


def test_forced_local_backend_ignores_the_key(api, settings, fake_openai, librispeech):
    settings.TRANSCRIPTION_BACKEND = "local"
    response = _upload(api, librispeech[2])
    assert response.json()["transcription"]["model"] == "whisper-tiny.en"
    assert fake_openai.requests == []


def test_file_over_openai_cap_is_sent_in_windows(api, settings, fake_openai, librispeech):
    settings.TRANSCRIPTION_OPENAI_MAX_FILE_BYTES = 50_000  # the 10.4 s FLAC is 180 KB
    settings.TRANSCRIPTION_CHUNK_SECONDS = 6
    settings.TRANSCRIPTION_CHUNK_OVERLAP_SECONDS = 2
    response = _upload(api, librispeech[0], response_format="verbose_json")
    assert response.status_code == 200, response.content
    assert len(fake_openai.requests) == 2  # [0, 6] and [4, 10.4]
    assert all(r["filename"] == "chunk.flac" for r in fake_openai.requests)
    body = response.json()["transcription"]
    assert body["duration"] == 10.435
    starts = [w["start"] for w in body["words"]]
    assert starts == sorted(starts) and len(starts) == pytest.approx(10.435 / 0.5, abs=2)
