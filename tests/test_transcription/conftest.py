"""Fixtures for the transcription tests: real audio (LibriSpeech, espeak-ng speech, generated tones),
isolated folders, and a fake OpenAI audio-transcriptions server on 127.0.0.1."""

from __future__ import annotations

import email.parser
import email.policy
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from django.conf import settings as django_settings

from services.transcription.metrics import word_error_rate  # noqa: F401 - re-exported for the tests

IN_CI = bool(os.environ.get("CI"))
LIBRISPEECH = Path(django_settings.BASE_DIR).parent / "shared" / "eval" / "librispeech"
SAMPLE_RATE = 16_000
# Whisper base joined (145 MB, sha256-checked) once per test run, not once per test.
WHISPER_MODELS_DIR = Path(tempfile.gettempdir()) / f"mlservice-test-whisper-models-{os.getuid()}"


@pytest.fixture(autouse=True)
def transcription_settings(settings, tmp_path: Path) -> Path:
    """Every test gets its own folders and the local engine (no key), with jobs run inline."""
    settings.TRANSCRIPTION_TEMP_DIR = tmp_path / "scratch"
    settings.TRANSCRIPTION_JOB_DIR = tmp_path / "jobs"
    settings.TRANSCRIPTION_UPLOAD_DIR = tmp_path / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "django-uploads")
    for folder in ("scratch", "jobs", "uploads", "django-uploads"):
        (tmp_path / folder).mkdir()
    settings.OPENAI_API_KEY = ""
    settings.TRANSCRIPTION_BACKEND = "auto"
    # These tests were written against tiny.en (half base's CPU); test_local_models.py covers base.
    settings.TRANSCRIPTION_LOCAL_MODEL = "tiny.en"
    settings.TRANSCRIPTION_LOCAL_MODELS_DIR = WHISPER_MODELS_DIR
    settings.TRANSCRIPTION_JOB_RUNNER = "auto"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PROVIDER_MAX_RETRIES = 0
    return tmp_path


def leftover_files(tmp_path: Path) -> list[Path]:
    """Files left in the scratch, job and Django upload folders (must be none after a request)."""
    return [
        p for folder in ("scratch", "jobs", "django-uploads") for p in (tmp_path / folder).rglob("*") if p.is_file()
    ]


# --- real speech
@dataclass(frozen=True)
class Utterance:
    path: Path
    text: str


@pytest.fixture(scope="session")
def librispeech() -> list[Utterance]:
    if not LIBRISPEECH.is_dir():
        message = f"LibriSpeech sample not found at {LIBRISPEECH}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    references: dict[str, str] = {}
    for transcript in LIBRISPEECH.glob("*.trans.txt"):
        for line in transcript.read_text().splitlines():
            key, _, text = line.partition(" ")
            references[key] = text
    return [Utterance(path, references[path.stem]) for path in sorted(LIBRISPEECH.glob("*.flac"))]


SYNTH_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please schedule the meeting for Tuesday morning at ten.",
    "Our quarterly revenue grew by twelve percent this year.",
)


@pytest.fixture(scope="session")
def espeak_speech(tmp_path_factory: pytest.TempPathFactory) -> list[Utterance]:
    """Sentences spoken by espeak-ng (Debian package), as 16 kHz WAV files."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        message = "espeak-ng is not installed (apt-get install espeak-ng)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("espeak")
    utterances = []
    for index, sentence in enumerate(SYNTH_SENTENCES):
        raw = folder / f"raw{index}.wav"
        subprocess.run([binary, "-v", "en-us", "-s", "150", "-w", str(raw), sentence], check=True, timeout=60)
        out = folder / f"sentence{index}.wav"
        write_wav(out, read_pcm(raw))
        utterances.append(Utterance(out, sentence))
    return utterances


@pytest.fixture(scope="session")
def long_speech(librispeech: list[Utterance], espeak_speech: list[Utterance], tmp_path_factory) -> Utterance:
    """About 33 s of real speech with short pauses: long enough to be chunked."""
    parts = [*librispeech, *espeak_speech]
    pause = np.zeros(int(0.4 * SAMPLE_RATE), dtype=np.float32)
    pcm = np.concatenate([piece for utterance in parts for piece in (read_pcm(utterance.path), pause)])
    path = tmp_path_factory.mktemp("long") / "long.wav"
    write_wav(path, pcm)
    return Utterance(path, " ".join(utterance.text for utterance in parts))


# --- audio helpers
def read_pcm(path: Path) -> np.ndarray:
    from services.transcription import audio

    return audio.decode(path)


def write_wav(path: Path, pcm: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes((np.clip(pcm, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def sine_wav(path: Path, seconds: float, sample_rate: int = 44_100, channels: int = 2, freq: float = 440.0) -> Path:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    tone = (0.3 * np.sin(2 * math.pi * freq * t) * 32767).astype("<i2")
    frames = np.repeat(tone[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(frames.tobytes())
    return path


def dominant_frequency(path: Path) -> float:
    pcm = read_pcm(path)
    spectrum = np.abs(np.fft.rfft(pcm))
    return float(np.fft.rfftfreq(len(pcm), 1 / SAMPLE_RATE)[int(np.argmax(spectrum))])


# --- fake OpenAI audio-transcriptions server
@dataclass
class FakeOpenAI:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    # "ok", or an HTTP status to answer with (401, 429, 500, 400).
    mode: str = "ok"
    text: str = "hello from the fake whisper server"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeOpenAI

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path not in ("/v1/audio/transcriptions", "/v1/audio/translations"):
            return self._send(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
        fields = _parse_multipart(self.headers["Content-Type"], body)
        fields["authorization"] = self.headers.get("Authorization")
        fields["path"] = self.path
        self.fake.requests.append(fields)
        if self.fake.mode != "ok":
            status = int(self.fake.mode)
            return self._send(status, {"error": {"message": f"fake failure {status}", "type": "server_error"}})
        duration = _duration(fields["file_bytes"])
        if fields.get("response_format") != "verbose_json":
            return self._send(200, {"text": self.fake.text})
        # One word every half second, in the middle of the audio it received.
        words = [
            {"word": "tick", "start": round(t, 2), "end": round(t + 0.3, 2)}
            for t in np.arange(0.1, duration - 0.3, 0.5)
        ]
        segment_text = " ".join(w["word"] for w in words) or self.fake.text
        # "words" stay in a translation's answer too, as some OpenAI-compatible servers send them.
        translate = self.path.endswith("/translations")
        return self._send(
            200,
            {
                "task": "translate" if translate else "transcribe",
                "language": "english",
                "duration": duration,
                "text": segment_text,
                "segments": [
                    {
                        "id": 0, "seek": 0, "start": 0.0, "end": duration, "text": segment_text, "tokens": [],
                        "temperature": 0.0, "avg_logprob": -0.2, "compression_ratio": 1.0, "no_speech_prob": 0.01,
                    }
                ],
                "words": words,
            },
        )  # fmt: skip

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if part.get_filename():
            fields.update(filename=part.get_filename(), file_type=part.get_content_type(), file_bytes=payload)
        elif name.endswith("[]"):
            fields.setdefault(name[:-2], []).append(payload.decode())
        else:
            fields[name] = payload.decode()
    return fields


def _duration(data: bytes) -> float:
    import io

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate


@pytest.fixture
def fake_openai(settings) -> Iterator[FakeOpenAI]:
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fake = FakeOpenAI(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
    handler.fake = fake
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.OPENAI_API_KEY = "sk-test-transcription"
    settings.OPENAI_BASE_URL = fake.url
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
