"""Transcription: engine choice, validation of audio and options, conversion, cost, health.

Views call ``get_instance()``; the engines live in ``services/transcription/`` behind one interface
(local faster-whisper, tiny.en or base, OpenAI). Long audio is handed to ``services.transcription_jobs``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings

from mlservice import metrics
from mlservice.core.errors import BadRequest, PayloadTooLarge, ServiceUnavailable, UnsupportedMedia
from mlservice.core.resets import register_reset
from services.transcription import audio
from services.transcription.chunking import transcribe_file_in_windows
from services.transcription.local_engine import LocalModelUnavailable, LocalWhisperEngine
from services.transcription.openai_engine import OPENAI_MODELS, OpenAIWhisperEngine, metrics_model
from services.transcription.types import (
    TASKS,
    TaskUnsupported,
    Transcript,
    TranscriptionEngine,
    TranscriptionOptions,
    language_code,
)

logger = logging.getLogger("mlservice.transcription")

# Contract 4.6.3 and 4.6.4: exact lists, in this order.
SUPPORTED_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
LANGUAGES = (
    ("en", "English"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("ru", "Russian"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("zh", "Chinese"),
)
_OPENAI_MODEL_PATTERN = re.compile(r"^(whisper-\d|gpt-[\w.-]*transcribe)")
# Names that mean "the local model" (whichever TRANSCRIPTION_LOCAL_MODEL selects; the response names it).
LOCAL_ALIASES = ("local", "tiny.en", "base", "whisper-local", "whisper-tiny.en", "whisper-base")
# Backends the front end knows (contract 4.6.6); browser engines and ours cost nothing.
COST_BACKENDS = ("whisper-api", "whisper-local", "whisper-wasm", "web-speech", "local")
BACKENDS = ("auto", "local", "openai")
JOB_RUNNERS = ("auto", "celery", "thread", "eager")


@dataclass(frozen=True)
class EngineChoice:
    engine: TranscriptionEngine
    model: str


@dataclass(frozen=True)
class PreparedAudio:
    """A validated audio file ready for an engine: path, original name, measured facts."""

    path: Path
    filename: str
    info: audio.AudioInfo


class TranscriptionService:
    def __init__(self) -> None:
        if settings.TRANSCRIPTION_BACKEND not in BACKENDS:
            raise ValueError(f"TRANSCRIPTION_BACKEND must be one of {', '.join(BACKENDS)}")
        self.local = LocalWhisperEngine(
            settings.TRANSCRIPTION_LOCAL_MODEL_PATH,
            settings.TRANSCRIPTION_LOCAL_MODEL_NAME,
            model=settings.TRANSCRIPTION_LOCAL_MODEL,
        )
        self.openai = OpenAIWhisperEngine(
            settings.OPENAI_API_KEY,
            settings.OPENAI_BASE_URL,
            timeout=settings.PROVIDER_TIMEOUT_SECONDS,
            max_retries=settings.PROVIDER_MAX_RETRIES,
        )

    # --- static facts
    @staticmethod
    def formats() -> list[str]:
        return list(SUPPORTED_FORMATS)

    def languages(self) -> list[dict[str, str]]:
        """The contract's list, less what the engine in use cannot transcribe (English-only tiny.en)."""
        choice = self.default_choice()
        engine = choice.engine if choice else self.local
        model = choice.model if choice else self.local.model_name
        return [{"code": code, "name": name} for code, name in LANGUAGES if engine.supports_language(model, code)]

    def default_choice(self) -> EngineChoice | None:
        """The engine a request without ``model`` gets, or None when nothing is usable."""
        backend = settings.TRANSCRIPTION_BACKEND
        if backend != "local" and self.openai.is_available():
            return EngineChoice(self.openai, settings.TRANSCRIPTION_OPENAI_MODEL)
        if backend != "openai" and self.local.is_available():
            return EngineChoice(self.local, self.local.model_name)
        return None

    def health(self) -> dict[str, Any]:
        """Contract 4.6.5's keys, describing the engine actually in use, plus details."""
        choice = self.default_choice()
        engine = (
            choice.engine if choice else (self.openai if settings.TRANSCRIPTION_BACKEND == "openai" else self.local)
        )
        model = (
            choice.model
            if choice
            else (settings.TRANSCRIPTION_OPENAI_MODEL if engine is self.openai else self.local.model_name)
        )
        return {
            "status": "ok" if choice else "unavailable",
            "backend": engine.backend,
            "model": model,
            "available": choice is not None,
            "languageDetection": engine.detects_language(model),
            "backends": {
                "whisper-local": {
                    "available": self.local.is_available(),
                    "model": self.local.model_name,
                    "loaded": self.local.is_loaded,
                    "languageDetection": self.local.is_multilingual(),
                    "languages": self.local.languages(),
                    "vad": settings.TRANSCRIPTION_VAD,
                },
                "whisper-api": {"available": self.openai.is_available(), "model": settings.TRANSCRIPTION_OPENAI_MODEL},
            },
            "asyncThresholdSeconds": settings.TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS,
            "maxUploadBytes": settings.TRANSCRIPTION_MAX_UPLOAD_BYTES,
        }

    def is_available(self) -> bool:
        return self.default_choice() is not None

    def warm_up(self) -> None:
        if settings.TRANSCRIPTION_BACKEND != "openai" and self.local.is_available():
            self.local.load()

    # --- choosing the engine and checking options
    def choose(self, requested_model: str | None) -> EngineChoice:
        backend = settings.TRANSCRIPTION_BACKEND
        model = (requested_model or "").strip()
        wants_local = model.lower() in (*LOCAL_ALIASES, self.local.model_name.lower())
        if model and not wants_local and not _OPENAI_MODEL_PATTERN.match(model):
            names = ", ".join((*OPENAI_MODELS, self.local.model_name))
            raise BadRequest(f"model must be one of the following values: {names}")
        if wants_local and backend == "openai":
            raise BadRequest(f"model {model} is not available: TRANSCRIPTION_BACKEND is openai")
        if not wants_local and backend != "local" and self.openai.is_available():
            return EngineChoice(self.openai, model or settings.TRANSCRIPTION_OPENAI_MODEL)
        if backend == "openai":
            raise ServiceUnavailable("OpenAI client not initialized - check OPENAI_API_KEY")
        if not self.local.is_available():
            raise ServiceUnavailable(
                f"No transcription backend is available: install faster-whisper and {self.local.install_hint()}, "
                "or set OPENAI_API_KEY"
            )
        # An OpenAI model name (the contract's default is whisper-1) runs locally when no key is set;
        # the response names the model that really ran.
        return EngineChoice(self.local, self.local.model_name)

    def options(
        self, choice: EngineChoice, language: str | None, prompt: str | None, task: str = "transcribe"
    ) -> TranscriptionOptions:
        """Checked options; ``task="translate"`` asks for English text (a 400 where the model cannot)."""
        if task not in TASKS:
            raise BadRequest(f"task must be one of {', '.join(TASKS)}", param="task")
        if not choice.engine.supports_task(choice.model, task):
            raise BadRequest(
                f"model {choice.model} cannot translate (English-only); select a multilingual model "
                "(TRANSCRIPTION_LOCAL_MODEL=base) or set OPENAI_API_KEY for whisper-1",
                param="model",
            )
        code = None
        if language is not None and language.strip() and language.strip().lower() != "auto":
            code = language_code(language)
            if code is None:
                raise BadRequest("language must be an ISO-639-1 code that Whisper knows (for example en, es, fr)")
            if not choice.engine.supports_language(choice.model, code):
                raise BadRequest(
                    f"language {code} is not supported by the local model {choice.model} (English only); "
                    "set TRANSCRIPTION_LOCAL_MODEL=base or OPENAI_API_KEY to transcribe other languages"
                )
        return TranscriptionOptions(language=code, prompt=(prompt or None), task=task)

    # --- audio files
    @staticmethod
    def check_extension(filename: str) -> str:
        extension = Path(filename).suffix.lower().lstrip(".")
        if extension not in SUPPORTED_FORMATS:
            shown = f".{extension}" if extension else "none"
            raise UnsupportedMedia(
                f"Unsupported audio format: {shown} (file {filename!r}). Supported formats: {', '.join(SUPPORTED_FORMATS)}"
            )
        return extension

    @staticmethod
    def check_size(size: int) -> None:
        if size == 0:
            raise BadRequest("Audio file is empty")
        limit = settings.TRANSCRIPTION_MAX_UPLOAD_BYTES
        if size > limit:
            raise PayloadTooLarge(f"Audio file is too large: {size} bytes (limit {limit} bytes)")

    def prepare(self, path: Path, filename: str) -> PreparedAudio:
        """Size, decodability and duration checks; raises the contract's 4xx errors.

        The duration is measured by decoding up to TRANSCRIPTION_MAX_DURATION_SECONDS (a header can
        claim 10 s for 5 h of audio): it decides the limit, the sync/async choice and the windows.
        """
        self.check_size(path.stat().st_size)
        try:
            info = audio.probe(path, max_seconds=settings.TRANSCRIPTION_MAX_DURATION_SECONDS)
        except audio.AudioTooLong as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except audio.AudioError as exc:
            raise BadRequest(str(exc)) from exc
        if info.duration <= 0:
            raise BadRequest("Audio file contains no audio samples")
        return PreparedAudio(path, filename, info)

    @staticmethod
    def runs_in_background(prepared: PreparedAudio) -> bool:
        return prepared.info.duration > settings.TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS

    # --- work
    def transcribe(self, prepared: PreparedAudio, choice: EngineChoice, options: TranscriptionOptions) -> Transcript:
        transcript = self._transcribe(prepared, choice, options)
        self.record_audio(choice, prepared.info.duration)
        return transcript

    def record_audio(self, choice: EngineChoice, seconds: float) -> None:
        """Count the audio's own length once (windows overlap, so per-call sums would overcount)."""
        if choice.engine is self.openai:
            metrics.record_audio(self.openai.metrics_provider, metrics_model(choice.model), seconds)
        else:
            metrics.record_audio("local", self.local.model_name, seconds)

    def _transcribe(self, prepared: PreparedAudio, choice: EngineChoice, options: TranscriptionOptions) -> Transcript:
        try:
            if choice.engine is self.openai and not _over_openai_file_cap(prepared.path):
                # Sent as it is: nothing is decoded here.
                return choice.engine.transcribe_file(prepared.path, prepared.filename, choice.model, options)
            # Decoded window by window (local engine, or a file over OpenAI's per-file cap): one
            # engine call never holds more than a window, however long the audio.
            return transcribe_file_in_windows(
                prepared.path,
                prepared.info.duration,
                lambda samples, opts: choice.engine.transcribe_pcm(samples, choice.model, opts),
                options,
                window=settings.TRANSCRIPTION_CHUNK_SECONDS,
                overlap=settings.TRANSCRIPTION_CHUNK_OVERLAP_SECONDS,
            )
        except audio.AudioError as exc:
            raise BadRequest(str(exc)) from exc
        except LocalModelUnavailable as exc:
            raise ServiceUnavailable(str(exc)) from exc
        except TaskUnsupported as exc:
            raise BadRequest(str(exc)) from exc

    def convert(
        self,
        prepared: PreparedAudio,
        target_format: str,
        target: Path,
        *,
        sample_rate: int | None = None,
        channels: int | None = None,
        bitrate: int | None = None,
    ) -> audio.AudioInfo:
        try:
            return audio.convert(
                prepared.path,
                target,
                target_format,
                sample_rate=sample_rate,
                channels=channels,
                bitrate=bitrate,
                max_seconds=settings.TRANSCRIPTION_MAX_DURATION_SECONDS,
                max_bytes=settings.TRANSCRIPTION_CONVERT_MAX_OUTPUT_BYTES,
            )
        except (audio.AudioTooLong, audio.OutputTooLarge) as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except audio.AudioError as exc:
            raise BadRequest(str(exc)) from exc

    @staticmethod
    def estimate_cost(duration_seconds: float, backend: str) -> dict[str, Any]:
        rate = settings.TRANSCRIPTION_COST_PER_MINUTE if backend == "whisper-api" else 0.0
        minutes = duration_seconds / 60
        cost = round(minutes * rate, 6)
        return {
            "backend": backend,
            "durationSeconds": duration_seconds,
            "durationMinutes": minutes,
            "estimatedCost": cost,
            "currency": "USD",
            "ratePerMinute": rate,
            "breakdown": {"transcription": cost},
        }


def _over_openai_file_cap(path: Path) -> bool:
    return path.stat().st_size > settings.TRANSCRIPTION_OPENAI_MAX_FILE_BYTES


# --- temporary files
# Scratch files keep a short, plain extension (FFmpeg uses it as a hint) and nothing else: a
# client's 300-character "extension" must not become a file name the file system refuses.
_SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,10}$")


def safe_suffix(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    return suffix if _SAFE_SUFFIX.match(suffix) else ""


def temp_dir() -> Path:
    directory = Path(settings.TRANSCRIPTION_TEMP_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@contextmanager
def temporary_path(suffix: str = "") -> Iterator[Path]:
    """A scratch file path under TRANSCRIPTION_TEMP_DIR, removed on exit whatever happens."""
    handle, name = tempfile.mkstemp(suffix=suffix, dir=temp_dir())
    path = Path(name)
    os.close(handle)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def file_on_disk(upload: Any, filename: str) -> Iterator[Path]:
    """A path for an uploaded file: Django's own temp file when it has one, else a scratch copy."""
    existing = getattr(upload, "temporary_file_path", None)
    if callable(existing):
        yield Path(existing())
        return
    with temporary_path(safe_suffix(filename)) as path:
        with path.open("wb") as out:
            _copy(upload, out)
        yield path


@contextmanager
def bytes_on_disk(data: bytes, filename: str) -> Iterator[Path]:
    with temporary_path(safe_suffix(filename)) as path:
        path.write_bytes(data)
        yield path


def _copy(upload: Any, out: BinaryIO) -> None:
    if hasattr(upload, "chunks"):
        for chunk in upload.chunks():
            out.write(chunk)
    else:
        shutil.copyfileobj(upload, out)


@functools.cache
def get_instance() -> TranscriptionService:
    return TranscriptionService()


# Engines read their settings when built (tests change them with override_settings).
register_reset(get_instance.cache_clear, settings=("TRANSCRIPTION_", "OPENAI_", "PROVIDER_"))
