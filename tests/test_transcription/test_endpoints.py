"""formats, languages, health, convert and estimate-cost."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from services.transcription import audio

from .conftest import dominant_frequency, leftover_files, sine_wav

CONVERT = "/api/v1/transcription/convert"
COST = "/api/v1/transcription/estimate-cost"


def test_formats_exact_list(api):
    for path in ("/transcription/formats", "/api/v1/transcription/formats"):
        response = api.get(path)
        assert response.status_code == 200
        assert response.json() == {
            "success": True,
            "formats": ["flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm"],
        }


def test_languages_exact_list(api, settings):
    settings.TRANSCRIPTION_LOCAL_MODEL = "base"  # multilingual: the contract's whole list
    body = api.get("/transcription/languages").json()
    assert body["success"] is True
    assert body["languages"] == [
        {"code": "en", "name": "English"},
        {"code": "es", "name": "Spanish"},
        {"code": "fr", "name": "French"},
        {"code": "de", "name": "German"},
        {"code": "it", "name": "Italian"},
        {"code": "pt", "name": "Portuguese"},
        {"code": "nl", "name": "Dutch"},
        {"code": "ru", "name": "Russian"},
        {"code": "ja", "name": "Japanese"},
        {"code": "ko", "name": "Korean"},
        {"code": "zh", "name": "Chinese"},
    ]
    # The English-only model lists only what it can transcribe.
    settings.TRANSCRIPTION_LOCAL_MODEL = "tiny.en"
    assert api.get("/transcription/languages").json()["languages"] == [{"code": "en", "name": "English"}]


def test_health_reports_the_local_backend_honestly(api):
    body = api.get("/transcription/health").json()
    assert body["status"] == "ok"
    assert body["backend"] == "whisper-local"
    assert body["model"] == "whisper-tiny.en"
    assert body["available"] is True
    assert body["languageDetection"] is False
    local = body["backends"]["whisper-local"]
    assert local["available"] is True and local["languages"] == ["en"]
    assert body["backends"]["whisper-api"]["available"] is False


def test_service_health_and_readiness_include_transcription(api):
    assert api.get("/health").json()["services"]["transcription"] is True
    ready = api.get("/health/ready").json()
    assert ready["checks"]["transcription"]["ok"] is True


# --- convert
def _convert(api, path: Path, **fields):
    return api.post(CONVERT, {"file": SimpleUploadedFile(path.name, path.read_bytes()), **fields}, format="multipart")


def _decoded_facts(content: bytes) -> tuple[float, int, int, str]:
    with av.open(io.BytesIO(content)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        rate = stream.codec_context.sample_rate
        return samples / rate, rate, stream.codec_context.channels, stream.codec_context.name


@pytest.mark.parametrize(
    ("fmt", "codec", "mime"),
    [
        ("mp3", "mp3", "audio/mpeg"),
        ("flac", "flac", "audio/flac"),
        ("ogg", "opus", "audio/ogg"),
        ("webm", "opus", "audio/webm"),
        ("m4a", "aac", "audio/mp4"),
        ("wav", "pcm_s16le", "audio/wav"),
    ],
)
def test_convert_keeps_the_sound(api, tmp_path, transcription_settings, fmt, codec, mime):
    source = sine_wav(tmp_path / "tone.wav", 3.0, sample_rate=44_100, channels=2, freq=440.0)
    response = _convert(api, source, target_format=fmt, sample_rate="16000", channels="1")
    assert response.status_code == 200
    assert response["Content-Type"] == mime
    assert response["Content-Disposition"] == f'attachment; filename="tone.{fmt}"'
    content = b"".join(response.streaming_content)
    duration, rate, channels, decoded_codec = _decoded_facts(content)
    assert decoded_codec.startswith(codec)
    assert duration == pytest.approx(3.0, abs=0.1)
    # Opus always decodes at 48 kHz (it was encoded at 16 kHz); the others keep the asked rate.
    assert (rate, channels) == ((48_000 if codec == "opus" else 16_000), 1)
    assert float(response["X-Audio-Duration"]) == pytest.approx(3.0, abs=0.1)
    converted = tmp_path / f"out.{fmt}"
    converted.write_bytes(content)
    assert dominant_frequency(converted) == pytest.approx(440.0, abs=5)
    response.close()
    assert leftover_files(transcription_settings) == []


def test_convert_speech_keeps_the_words(api, librispeech, tmp_path):
    response = _convert(api, librispeech[2].path, target_format="mp3")
    assert response.status_code == 200
    mp3 = tmp_path / "speech.mp3"
    mp3.write_bytes(b"".join(response.streaming_content))
    response.close()
    assert audio.probe(mp3).duration == pytest.approx(audio.probe(librispeech[2].path).duration, abs=0.1)
    transcribed = api.post(
        "/api/v1/transcription/transcribe", {"file": SimpleUploadedFile("speech.mp3", mp3.read_bytes())}
    )
    assert transcribed.status_code == 200
    assert transcribed.json()["transcription"]["text"].lower().startswith("he could wait no longer")


def test_convert_large_upload_is_cleaned_up(api, settings, tmp_path, transcription_settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100_000
    source = sine_wav(tmp_path / "big.wav", 20.0, sample_rate=44_100, channels=2)  # 3.5 MB
    response = _convert(api, source, target_format="flac")
    assert response.status_code == 200
    assert _decoded_facts(b"".join(response.streaming_content))[2] == 2
    response.close()
    assert leftover_files(transcription_settings) == []


def test_convert_bad_input(api, tmp_path, transcription_settings):
    tone = sine_wav(tmp_path / "tone.wav", 0.5)
    response = _convert(api, tone, target_format="aiff")
    assert response.status_code == 400
    assert response.json()["message"] == [
        "target_format must be one of the following values: wav, flac, mp3, mpeg, mpga, ogg, oga, webm, m4a, mp4"
    ]
    response = _convert(api, tone)
    assert response.json()["message"] == ["targetFormat must be one of the following values: "
                                          "wav, flac, mp3, mpeg, mpga, ogg, oga, webm, m4a, mp4"]  # fmt: skip
    response = _convert(api, tone, target_format="mp3", sample_rate="fast", channels="3")
    assert response.status_code == 400
    assert response.json()["message"] == [
        "sample_rate must be a number conforming to the specified constraints",
        "channels must not be greater than 2",
    ]
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(b"OggS" + b"\x00" * 300)
    response = _convert(api, broken, target_format="mp3")
    assert response.status_code == 400
    assert response.json()["error"].startswith("Could not decode audio file")
    assert leftover_files(transcription_settings) == []


# --- estimate-cost
@pytest.mark.parametrize(
    ("body", "minutes", "cost", "backend"),
    [
        ({"duration_seconds": 600}, 10, 0.06, "whisper-api"),
        ({"durationSeconds": 90, "backend": "whisper-api"}, 1.5, 0.009, "whisper-api"),
        ({"duration_seconds": 3600, "backend": "whisper-local"}, 60, 0, "whisper-local"),
        ({"durationSeconds": 0}, 0, 0, "whisper-api"),
    ],
)
def test_estimate_cost(post_json, body, minutes, cost, backend):
    response = post_json(COST, body)
    assert response.status_code == 200
    result = response.json()
    assert result["success"] is True
    assert result["durationMinutes"] == minutes
    assert result["estimatedCost"] == cost
    assert result["currency"] == "USD"
    assert result["backend"] == backend
    assert result["breakdown"] == {"transcription": cost}


def test_estimate_cost_rate_is_configurable(post_json, settings):
    settings.TRANSCRIPTION_COST_PER_MINUTE = 0.01
    assert post_json("/transcription/estimate-cost", {"duration_seconds": 30}).json()["estimatedCost"] == 0.005


def test_estimate_cost_from_an_uploaded_file(api, librispeech):
    response = api.post(COST, {"file": SimpleUploadedFile("a.flac", librispeech[0].path.read_bytes())})
    assert response.status_code == 200
    body = response.json()
    assert body["durationSeconds"] == pytest.approx(10.435, abs=0.01)
    assert body["estimatedCost"] == round(body["durationSeconds"] / 60 * 0.006, 6)


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({}, ["durationSeconds must be a number conforming to the specified constraints"]),
        ({"duration_seconds": "600"}, ["duration_seconds must be a number conforming to the specified constraints"]),
        ({"durationSeconds": -1}, ["durationSeconds must not be less than 0"]),
        (
            {"duration_seconds": 60, "backend": "gpu"},
            [
                "backend must be one of the following values: whisper-api, whisper-local, whisper-wasm, web-speech, local"
            ],
        ),
        ({"duration_seconds": 60, "minutes": 1}, ["property minutes should not exist"]),
    ],
)
def test_estimate_cost_validation(post_json, body, messages):
    response = post_json(COST, body)
    assert response.status_code == 400
    assert response.json() == {"success": False, "error": "Bad Request", "message": messages, "statusCode": 400}
