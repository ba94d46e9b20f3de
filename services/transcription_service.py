"""Transcription: engine choice, validation of audio and options, conversion, cost, health.

Views follow the guide's service pattern: ``TranscriptionService.get_instance()`` and
``async_to_sync(service.transcribe_audio)(source, request)``, one call that runs upload -> probe ->
limits -> sync transcription or background job. The sync twins (``transcribe_source``,
``convert_source``, ``measure_duration``) are for sync callers. The engines live in
``services/transcription/`` behind one interface (local faster-whisper, tiny.en or base, OpenAI).
Long audio is handed to ``services.transcription_jobs``.
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, Literal

from asgiref.sync import sync_to_async

from mlservice import metrics
from mlservice.core.errors import (
    BadRequest,
    NotFoundError,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    UnsupportedMedia,
)
from mlservice.core.resets import register_reset
from services import transcription_jobs
from services.transcription import audio
from services.transcription.chunking import transcribe_file_in_windows
from services.transcription.config import TRANSCRIPTION_SETTINGS, TranscriptionConfig, transcription_config
from services.transcription.files import safe_suffix
from services.transcription.local_engine import LocalModelUnavailable, LocalWhisperEngine
from services.transcription.openai_engine import OPENAI_MODELS, OpenAIWhisperEngine, metrics_model
from services.transcription.types import (
    TASKS,
    EngineChoice,
    TaskUnsupported,
    Transcript,
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


@dataclass(frozen=True)
class PreparedAudio:
    """A validated audio file ready for an engine: path, original name, measured facts."""

    path: Path
    filename: str
    info: audio.AudioInfo


@dataclass(frozen=True)
class AudioSource:
    """Where a request's audio is: an uploaded file, decoded bytes, or a name in the upload folder.

    ``upload`` is any object with ``name``, ``size`` and ``chunks()`` or ``read()`` (Django's
    UploadedFile); the service never sees the HTTP request itself.
    """

    filename: str
    upload: Any = None
    data: bytes | None = None
    stored_name: str | None = None

    @classmethod
    def from_upload(cls, upload: Any) -> AudioSource:
        return cls(upload.name, upload=upload)

    @classmethod
    def from_bytes(cls, data: bytes, filename: str) -> AudioSource:
        return cls(filename, data=data)

    @classmethod
    def from_upload_folder(cls, file_path: str) -> AudioSource:
        """A file already in TRANSCRIPTION_UPLOAD_DIR; resolved (and confined there) when used."""
        return cls(file_path, stored_name=file_path)


@dataclass(frozen=True)
class TranscribeRequest:
    """What to do with the audio. ``sync_only``: no background job (OpenAI's wire format has
    none), audio over TRANSCRIPTION_SYNC_MAX_SECONDS is a 413. ``name_params``: 4xx errors name
    the offending field (``param``) and an unreadable format is a 400, as OpenAI's envelope does."""

    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    response_format: str = "json"
    task: str = "transcribe"
    word_timestamps: bool | None = None  # None: the options' default (word timings on)
    temperature: float | None = None
    sync_only: bool = False
    name_params: bool = False


@dataclass(frozen=True)
class TranscriptionResult:
    """A finished transcript, or the background job (a ``TranscriptionJob`` row) that will make it."""

    response_format: str
    transcript: Transcript | None = None
    job: Any = None


@dataclass(frozen=True)
class ConvertedAudio:
    """An open handle on the converted file (already unlinked: nothing is left on disk) and its facts."""

    handle: BinaryIO
    info: audio.AudioInfo
    filename: str
    target_format: str


class TranscriptionService:
    @classmethod
    def get_instance(cls) -> TranscriptionService:
        """The process-wide service (the guide's service pattern)."""
        return get_instance()

    # --- the views' calls (async, for ``async_to_sync``)
    # A job is a database row: the whole orchestration runs through sync_to_async (thread-sensitive,
    # so back in the request's thread, on its connection and transaction). Decoding and Whisper
    # then run there too, as they did before; async_to_sync's caller is blocked meanwhile anyway.
    async def transcribe_audio(self, source: AudioSource, request: TranscribeRequest) -> TranscriptionResult:
        return await sync_to_async(self.transcribe_source)(source, request)

    async def convert_audio(
        self,
        source: AudioSource,
        target_format: str,
        *,
        sample_rate: int | None = None,
        channels: int | None = None,
        bitrate: int | None = None,
    ) -> ConvertedAudio:
        return await sync_to_async(self.convert_source)(
            source, target_format, sample_rate=sample_rate, channels=channels, bitrate=bitrate
        )

    async def estimate_audio_cost(
        self, backend: str, *, duration_seconds: float | None = None, source: AudioSource | None = None
    ) -> dict[str, Any]:
        """Cost of a duration, or of a file (its duration measured by decoding)."""
        if source is not None:
            duration_seconds = await sync_to_async(self.measure_duration)(source)
        return self.estimate_cost(float(duration_seconds or 0.0), backend)

    # --- the same, sync
    def transcribe_source(self, source: AudioSource, request: TranscribeRequest) -> TranscriptionResult:
        """Limits, engine and options, probe, then a transcript or (long audio) a queued job."""
        named = _param_names if request.name_params else _no_param_names
        with named("file"):
            path_in_folder = self._check_source(source)
        with named("model"):
            choice = self.choose(request.model)
        with named("language"):
            options = self.options(choice, request.language, request.prompt, task=request.task)
        if request.word_timestamps is not None:
            options = replace(options, word_timestamps=request.word_timestamps, temperature=request.temperature)
        elif request.temperature is not None:
            options = replace(options, temperature=request.temperature)
        with self._on_disk(source, path_in_folder) as path:
            with named("file"):
                prepared = self.prepare(path, source.filename if path_in_folder is None else path.name)
            if request.sync_only:
                _check_sync_duration(prepared)
            elif self.runs_in_background(prepared):
                job = transcription_jobs.create_job(prepared, choice, options, request.response_format, self)
                return TranscriptionResult(request.response_format, job=job)
            return TranscriptionResult(request.response_format, transcript=self.transcribe(prepared, choice, options))

    def convert_source(
        self,
        source: AudioSource,
        target_format: str,
        *,
        sample_rate: int | None = None,
        channels: int | None = None,
        bitrate: int | None = None,
    ) -> ConvertedAudio:
        path_in_folder = self._check_source(source)
        with self._on_disk(source, path_in_folder) as path:
            prepared = self.prepare(path, source.filename)
            with temporary_path(f".{target_format}") as target:
                info = self.convert(
                    prepared, target_format, target, sample_rate=sample_rate, channels=channels, bitrate=bitrate
                )
                # Opened before the scratch path is removed: the open handle keeps the data readable
                # while it streams, and nothing is left on disk even if the client goes away.
                handle = target.open("rb")
        return ConvertedAudio(handle, info, source.filename, target_format)

    def measure_duration(self, source: AudioSource) -> float:
        path_in_folder = self._check_source(source)
        with self._on_disk(source, path_in_folder) as path:
            return self.prepare(path, source.filename).info.duration

    def _check_source(self, source: AudioSource) -> Path | None:
        """The checks that need no decoding, in the contract's order; the resolved path of a stored file."""
        if source.stored_name is not None:
            path = self.resolve_upload_path(source.stored_name)
            self.check_extension(path.name)
            return path
        if source.upload is not None:
            self.check_extension(source.upload.name)
            self.check_size(source.upload.size)
        else:
            # Base64 audio has no trustworthy name to check: FFmpeg's probe decides.
            self.check_size(len(source.data or b""))
        return None

    @contextmanager
    def _on_disk(self, source: AudioSource, path_in_folder: Path | None) -> Iterator[Path]:
        if path_in_folder is not None:
            yield path_in_folder
        elif source.upload is not None:
            with file_on_disk(source.upload, source.upload.name) as path:
                yield path
        else:
            with bytes_on_disk(source.data or b"", source.filename) as path:
                yield path

    @staticmethod
    def resolve_upload_path(raw: str) -> Path:
        """A path inside TRANSCRIPTION_UPLOAD_DIR, with symlinks and '..' resolved before the check."""
        base = transcription_config().upload_dir.resolve()
        if not raw.strip() or "\x00" in raw:
            raise ServiceError("filePath must name a file inside the upload folder", 400)
        candidate = Path(raw)
        try:
            resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
            if not resolved.is_relative_to(base):
                raise ServiceError("filePath must point to a file inside the configured upload folder", 403)
            is_file = resolved.is_file()
        except RuntimeError as exc:  # Python 3.11's resolve() on a symlink loop
            raise BadRequest("filePath cannot be resolved: it is a loop of symbolic links") from exc
        except OSError as exc:  # ENAMETOOLONG, ELOOP...: the path cannot name a file at all
            raise BadRequest(f"filePath cannot name a file: {exc.strerror or type(exc).__name__}") from exc
        if not is_file:
            raise NotFoundError(f"Audio file not found: {raw}")
        return resolved

    def __init__(self) -> None:
        config = transcription_config()  # checks TRANSCRIPTION_BACKEND (and the other choices) once
        self.local = LocalWhisperEngine(config.local_model_path, config.local_model_name, model=config.local_model)
        self.openai = OpenAIWhisperEngine(
            config.openai_api_key,
            config.openai_base_url,
            timeout=config.provider_timeout,
            max_retries=config.provider_max_retries,
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
        config = transcription_config()
        backend = config.backend
        if backend != "local" and self.openai.is_available():
            return EngineChoice(self.openai, config.openai_model)
        if backend != "openai" and self.local.is_available():
            return EngineChoice(self.local, self.local.model_name)
        return None

    def health(self) -> dict[str, Any]:
        """Contract 4.6.5's keys, describing the engine actually in use, plus details."""
        config = transcription_config()
        choice = self.default_choice()
        engine = choice.engine if choice else (self.openai if config.backend == "openai" else self.local)
        model = choice.model if choice else (config.openai_model if engine is self.openai else self.local.model_name)
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
                    "vad": config.vad,
                },
                "whisper-api": {"available": self.openai.is_available(), "model": config.openai_model},
            },
            "asyncThresholdSeconds": config.async_threshold_seconds,
            "maxUploadBytes": config.max_upload_bytes,
        }

    def is_available(self) -> bool:
        return self.default_choice() is not None

    def warm_up(self) -> None:
        if transcription_config().backend != "openai" and self.local.is_available():
            self.local.load()

    # --- choosing the engine and checking options
    def choose(self, requested_model: str | None) -> EngineChoice:
        config = transcription_config()
        backend = config.backend
        model = (requested_model or "").strip()
        wants_local = model.lower() in (*LOCAL_ALIASES, self.local.model_name.lower())
        if model and not wants_local and not _OPENAI_MODEL_PATTERN.match(model):
            names = ", ".join((*OPENAI_MODELS, self.local.model_name))
            raise BadRequest(f"model must be one of the following values: {names}")
        if wants_local and backend == "openai":
            raise BadRequest(f"model {model} is not available: TRANSCRIPTION_BACKEND is openai")
        if not wants_local and backend != "local" and self.openai.is_available():
            return EngineChoice(self.openai, model or config.openai_model)
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
        limit = transcription_config().max_upload_bytes
        if size > limit:
            raise PayloadTooLarge(f"Audio file is too large: {size} bytes (limit {limit} bytes)")

    def prepare(self, path: Path, filename: str) -> PreparedAudio:
        """Size, decodability and duration checks; raises the contract's 4xx errors.

        The duration is measured by decoding up to TRANSCRIPTION_MAX_DURATION_SECONDS (a header can
        claim 10 s for 5 h of audio): it decides the limit, the sync/async choice and the windows.
        """
        self.check_size(path.stat().st_size)
        try:
            info = audio.probe(path, max_seconds=transcription_config().max_duration_seconds)
        except audio.AudioTooLong as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except audio.AudioError as exc:
            raise BadRequest(str(exc)) from exc
        if info.duration <= 0:
            raise BadRequest("Audio file contains no audio samples")
        return PreparedAudio(path, filename, info)

    @staticmethod
    def runs_in_background(prepared: PreparedAudio) -> bool:
        return prepared.info.duration > transcription_config().async_threshold_seconds

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
        config = transcription_config()
        try:
            if choice.engine is self.openai and not _over_openai_file_cap(prepared.path, config):
                # Sent as it is: nothing is decoded here.
                return choice.engine.transcribe_file(prepared.path, prepared.filename, choice.model, options)
            # Decoded window by window (local engine, or a file over OpenAI's per-file cap): one
            # engine call never holds more than a window, however long the audio.
            return transcribe_file_in_windows(
                prepared.path,
                prepared.info.duration,
                lambda samples, opts: choice.engine.transcribe_pcm(samples, choice.model, opts),
                options,
                window=config.chunk_seconds,
                overlap=config.chunk_overlap_seconds,
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
        config = transcription_config()
        try:
            return audio.convert(
                prepared.path,
                target,
                target_format,
                sample_rate=sample_rate,
                channels=channels,
                bitrate=bitrate,
                max_seconds=config.max_duration_seconds,
                max_bytes=config.convert_max_output_bytes,
            )
        except (audio.AudioTooLong, audio.OutputTooLarge) as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except audio.AudioError as exc:
            raise BadRequest(str(exc)) from exc

    @staticmethod
    def estimate_cost(duration_seconds: float, backend: str) -> dict[str, Any]:
        rate = transcription_config().cost_per_minute if backend == "whisper-api" else 0.0
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


class _param_names:
    """Re-raise a service's 4xx about one field with that field named, as OpenAI's envelope does."""

    def __init__(self, param: str) -> None:
        self.param = param

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, traceback: Any) -> Literal[False]:
        if isinstance(exc, ServiceError) and exc.status < 500 and exc.param is None:
            exc.param = self.param
            if isinstance(exc, UnsupportedMedia):  # OpenAI answers an unreadable format with 400
                exc.status = 400
        return False


class _no_param_names(_param_names):
    def __exit__(self, kind: Any, exc: BaseException | None, traceback: Any) -> Literal[False]:
        return False


def _check_sync_duration(prepared: PreparedAudio) -> None:
    limit = transcription_config().sync_max_seconds
    if prepared.info.duration > limit:
        raise PayloadTooLarge(
            f"Audio is {prepared.info.duration:.0f} s long; /v1/audio/* transcribe within the request up to "
            f"{limit:g} s (TRANSCRIPTION_SYNC_MAX_SECONDS). POST it to /transcription/transcribe, which "
            "queues a background job for long audio",
            param="file",
        )


def _over_openai_file_cap(path: Path, config: TranscriptionConfig) -> bool:
    return path.stat().st_size > config.openai_max_file_bytes


# --- temporary files
def temp_dir() -> Path:
    directory = transcription_config().temp_dir
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


# Engines are built from the config (tests change it with override_settings).
register_reset(get_instance.cache_clear, settings=TRANSCRIPTION_SETTINGS)
