"""POST /v1/audio/transcriptions and /v1/audio/translations in OpenAI's multipart format, driven by
the official openai client against a real server (pytest-django's live_server) on real speech
(LibriSpeech, espeak-ng) with the local Whisper; errors are read from OpenAI's envelope."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import threading
from pathlib import Path

import httpx
import openai
import pytest

from services.model_gate import gate_for
from services.transcription import audio
from services.transcription.types import TranscriptionOptions

from .conftest import leftover_files, read_pcm, word_error_rate, write_wav

SRT_TIMING = re.compile(r"^\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}$")
VTT_TIMING = re.compile(r"^\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}$", re.M)


@pytest.fixture
def client(live_server) -> openai.OpenAI:
    return openai.OpenAI(api_key="anything", base_url=f"{live_server.url}/v1", max_retries=0, timeout=120)


@pytest.fixture
def tiny(settings) -> str:
    """The English-only model: the fastest, and the one that cannot translate."""
    settings.TRANSCRIPTION_LOCAL_MODEL = "tiny.en"
    return "whisper-tiny.en"


def _transcribe(client: openai.OpenAI, path: Path, **extra: object) -> object:
    with path.open("rb") as handle:
        return client.audio.transcriptions.create(file=handle, **{"model": "whisper-1", **extra})


def test_json_is_the_text_and_its_usage(client, tiny, librispeech, transcription_settings) -> None:
    utterance = librispeech[2]  # "HE COULD WAIT NO LONGER"
    result = _transcribe(client, utterance.path)
    assert word_error_rate(utterance.text, result.text) == 0, result.text
    duration = audio.probe(utterance.path).duration
    assert result.usage.type == "duration" and result.usage.seconds == math.ceil(duration)
    assert leftover_files(transcription_settings) == []


def test_verbose_json_segments_and_words(client, tiny, librispeech) -> None:
    utterance = librispeech[0]  # "HE HOPED THERE WOULD BE STEW FOR DINNER ..."
    duration = audio.probe(utterance.path).duration
    result = _transcribe(
        client, utterance.path, model=tiny, response_format="verbose_json", timestamp_granularities=["word", "segment"]
    )
    assert (result.task, result.language) == ("transcribe", "english")
    assert result.duration == pytest.approx(duration, abs=0.01)
    assert word_error_rate(utterance.text, result.text) < 0.2, result.text
    assert [s.id for s in result.segments] == list(range(len(result.segments)))
    for segment in result.segments:
        assert 0 <= segment.start < segment.end <= duration + 0.1
        assert segment.text.strip() and segment.seek == round(segment.start * 100)
        assert segment.avg_logprob < 0 and 0 <= segment.no_speech_prob <= 1 and segment.compression_ratio > 0
    assert " ".join(s.text for s in result.segments).strip() == result.text
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and all(w.start <= w.end for w in result.words)
    assert " ".join(w.word for w in result.words).startswith("He hoped there would be stew")
    # Without the word granularity: segments only (word timings cost decoding time).
    plain = _transcribe(client, librispeech[2].path, response_format="verbose_json")
    assert plain.segments and plain.words is None
    assert "words" not in plain.model_dump(exclude_unset=True)


def test_srt_vtt_and_text(client, tiny, librispeech) -> None:
    utterance = librispeech[3]
    srt = _transcribe(client, utterance.path, response_format="srt")
    assert isinstance(srt, str)
    blocks = srt.strip().split("\n\n")
    for number, block in enumerate(blocks, start=1):
        index, times, text = block.split("\n", 2)
        assert index == str(number) and SRT_TIMING.match(times) and text.strip()
    assert blocks[0].split("\n")[1].startswith("00:00:0")
    vtt = _transcribe(client, utterance.path, response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n") and VTT_TIMING.search(vtt)
    text = _transcribe(client, utterance.path, response_format="text")
    assert text.endswith("\n") and word_error_rate(utterance.text, text) < 0.2, text


def test_english_only_model_cannot_translate(client, tiny, librispeech) -> None:
    with pytest.raises(openai.BadRequestError) as refused, librispeech[2].path.open("rb") as handle:
        client.audio.translations.create(file=handle, model="whisper-1")
    assert refused.value.body["param"] == "model"
    assert "cannot translate" in refused.value.message
    assert "TRANSCRIPTION_LOCAL_MODEL=base" in refused.value.message
    assert refused.value.response.headers["x-should-retry"] == "false"


@pytest.fixture(scope="session")
def french_speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = shutil.which("espeak-ng")
    if binary is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("french")
    raw = folder / "raw.wav"
    sentence = "Bonjour. Je voudrais un café et un croissant, s'il vous plaît."
    subprocess.run([binary, "-v", "fr", "-s", "140", "-w", str(raw), sentence], check=True, timeout=60)
    return write_wav(folder / "french.wav", read_pcm(raw))


def test_multilingual_model_translates_french_speech_to_english(client, settings, french_speech) -> None:
    settings.TRANSCRIPTION_LOCAL_MODEL = "base"
    with french_speech.open("rb") as handle:
        result = client.audio.translations.create(file=handle, model="whisper-1", response_format="verbose_json")
    assert (result.task, result.language) == ("translate", "english")
    words = set(re.findall(r"[a-z]+", result.text.lower()))
    # whisper-base heard "Good morning. I'll give you a coffee and a glass of silver.": English, if loose.
    assert "coffee" in words and len(words) >= 5, result.text
    assert not words & {"je", "voudrais", "vous", "un", "et", "caf"}, result.text
    assert result.segments and result.segments[0].text.strip()
    with french_speech.open("rb") as handle:  # the same audio transcribed stays French
        french = client.audio.transcriptions.create(file=handle, model="whisper-1", language="fr")
    assert "café" in french.text.lower() or "cafe" in french.text.lower(), french.text


# --- errors, in OpenAI's envelope
def _post(live_server, files: dict, path: str = "/v1/audio/transcriptions") -> httpx.Response:
    return httpx.post(f"{live_server.url}{path}", files=files, timeout=60)


def test_missing_file_and_field_errors_name_the_field(client, live_server, tiny, librispeech) -> None:
    missing = _post(live_server, {"model": (None, "whisper-1")})
    assert missing.status_code == 400
    assert missing.json() == {
        "error": {
            "message": "file must be an audio file upload (multipart field 'file')",
            "type": "invalid_request_error",
            "param": "file",
            "code": None,
        }
    }
    clip = librispeech[2].path
    cases = [
        ({"response_format": "mp3"}, "response_format", "response_format must be one of json, text, verbose_json"),
        ({"model": "davinci"}, "model", "model must be one of the following values: whisper-1"),
        ({"language": "klingon"}, "language", "language must be an ISO-639-1 code"),
        ({"temperature": 3}, "temperature", "temperature must be a number between 0 and 1"),
        ({"timestamp_granularities": ["word"]}, "timestamp_granularities", "needs response_format=verbose_json"),
        (
            {"response_format": "verbose_json", "timestamp_granularities": ["letter"]},
            "timestamp_granularities",
            "items must be one of segment, word",
        ),
        ({"language": "fr"}, "language", "language fr is not supported by the local model whisper-tiny.en"),
    ]
    for extra, param, words in cases:
        with pytest.raises(openai.BadRequestError) as bad:
            _transcribe(client, clip, **extra)
        assert bad.value.body["param"] == param, extra
        assert words in bad.value.message, (extra, bad.value.message)
    with pytest.raises(openai.BadRequestError) as streamed:
        _transcribe(client, clip, stream=True)
    assert streamed.value.body["param"] == "stream"


def test_bad_files(client, live_server, tiny, tmp_path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio")
    with pytest.raises(openai.BadRequestError) as unsupported:
        _transcribe(client, notes)
    assert unsupported.value.body["param"] == "file"
    assert unsupported.value.message.startswith("Error code: 400 - Unsupported audio format: .txt")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF" + b"\x00" * 500)
    with pytest.raises(openai.BadRequestError) as undecodable:
        _transcribe(client, corrupt)
    assert undecodable.value.body["param"] == "file"
    empty = _post(live_server, {"file": ("empty.wav", b"", "audio/wav"), "model": (None, "whisper-1")})
    assert empty.status_code == 400 and empty.json()["error"]["message"] == "Audio file is empty"


def test_too_large_and_too_long(client, settings, tiny, librispeech, transcription_settings) -> None:
    settings.TRANSCRIPTION_MAX_UPLOAD_BYTES = 20_000
    with pytest.raises(openai.APIStatusError) as large:
        _transcribe(client, librispeech[0].path)  # 180 KB
    assert large.value.status_code == 413
    assert large.value.body["type"] == "invalid_request_error"
    assert "Audio file is too large" in large.value.message and "limit 20000 bytes" in large.value.message
    assert large.value.response.headers["x-should-retry"] == "false"
    settings.TRANSCRIPTION_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
    settings.TRANSCRIPTION_SYNC_MAX_SECONDS = 2
    with pytest.raises(openai.APIStatusError) as long:
        _transcribe(client, librispeech[0].path)
    assert long.value.status_code == 413 and long.value.body["param"] == "file"
    assert "TRANSCRIPTION_SYNC_MAX_SECONDS" in long.value.message and "/transcription/transcribe" in long.value.message
    assert leftover_files(transcription_settings) == []


def test_busy_model_is_503_with_retry_after(client, settings, tiny, librispeech) -> None:
    settings.MODEL_GATES = {**settings.MODEL_GATES, "local-whisper": {"concurrency": 1, "queue": 0}}
    settings.MODEL_QUEUE_TIMEOUT_SECONDS = 3.0
    gate = gate_for("local-whisper")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.slot():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(5)
        with pytest.raises(openai.InternalServerError) as busy:
            _transcribe(client, librispeech[2].path)
    finally:
        release.set()
        holder.join(5)
    assert busy.value.status_code == 503
    assert busy.value.response.headers["retry-after"] == "3"
    assert "x-should-retry" not in busy.value.response.headers  # a retry can help
    assert "local-whisper model is busy" in busy.value.message


def test_openai_models_go_through_the_openai_engine(client, fake_openai, librispeech) -> None:
    result = _transcribe(
        client, librispeech[2].path, model="gpt-4o-mini-transcribe", prompt="A novel.", temperature=0.3
    )
    assert result.text == "hello from the fake whisper server"
    sent = fake_openai.requests[-1]
    assert (sent["model"], sent["prompt"], sent["temperature"], sent["authorization"]) == (
        "gpt-4o-mini-transcribe",
        "A novel.",
        "0.3",
        "Bearer sk-test-transcription",
    )


def test_temperature_starts_whisper_fallback_schedule(client, tiny, librispeech) -> None:
    assert TranscriptionOptions().temperatures == (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # OpenAI's 0: the default
    assert TranscriptionOptions(temperature=0.5).temperatures == (0.5, 0.7, 0.9)
    assert TranscriptionOptions(temperature=1).temperatures == (1.0,)
    utterance = librispeech[2]
    result = _transcribe(client, utterance.path, temperature=0.2, response_format="verbose_json")
    assert word_error_rate(utterance.text, result.text) == 0, result.text
    assert {segment.temperature for segment in result.segments} == {0.2}


def test_translations_with_a_key_go_to_openai_translations(client, fake_openai, tiny, librispeech) -> None:
    with librispeech[2].path.open("rb") as handle:
        result = client.audio.translations.create(file=handle, model="whisper-1", response_format="srt")
    sent = fake_openai.requests[-1]
    assert sent["path"] == "/v1/audio/translations" and sent["model"] == "whisper-1"
    assert "language" not in sent and "timestamp_granularities" not in sent
    index, times, text = result.strip().split("\n", 2)
    assert index == "1" and SRT_TIMING.match(times) and text.strip()
