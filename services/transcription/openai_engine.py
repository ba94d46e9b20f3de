"""OpenAI speech-to-text (``whisper-1``, ``gpt-4o-transcribe``...) through the official SDK.

The SDK retries 408/409/429/5xx and connection errors ``PROVIDER_MAX_RETRIES`` times; what still
fails is mapped to 503 (not usable: bad key, rate limit, unreachable) or 502 (it answered badly).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import openai

from mlservice import metrics
from mlservice.core.errors import ServiceUnavailable, UpstreamError
from mlservice.core.provider_errors import map_provider_error

from . import audio
from .config import transcription_config
from .types import Segment, TaskUnsupported, Transcript, TranscriptionOptions, Word, language_code

logger = logging.getLogger("mlservice.transcription.openai")

# OpenAI's transcription models (GET /transcription/formats, /v1/models; other names are checked by pattern).
OPENAI_MODELS = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")
# Models that only answer "json"/"text" (no segments, words or language).
_TEXT_ONLY_PREFIXES = ("gpt-4o",)

# Contract 4.6.2: the MIME type sent for each extension.
MIME_TYPES = {
    "flac": "audio/flac",
    "m4a": "audio/m4a",
    "mp3": "audio/mpeg",
    "mpeg": "audio/mpeg",
    "mpga": "audio/mpeg",
    "mp4": "audio/mp4",
    "oga": "audio/ogg",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "webm": "audio/webm",
}


def mime_type_for(filename: str) -> str:
    extension = Path(filename).suffix.lower().lstrip(".")
    return MIME_TYPES.get(extension, "audio/mpeg")


class OpenAIWhisperEngine:
    backend = "whisper-api"

    def __init__(self, api_key: str, base_url: str = "", timeout: float = 60.0, max_retries: int = 2) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._client = (
            openai.OpenAI(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=max_retries)
            if api_key
            else None
        )

    @property
    def metrics_provider(self) -> str:
        return "compatible" if self._base_url else "openai"

    def is_available(self) -> bool:
        return self._client is not None

    def detects_language(self, model: str) -> bool:
        return not model.startswith(_TEXT_ONLY_PREFIXES)

    def supports_language(self, model: str, code: str) -> bool:
        return True

    def supports_task(self, model: str, task: str) -> bool:
        # OpenAI's /audio/translations serves whisper-1 only; the gpt-4o models only transcribe.
        return task == "transcribe" or (task == "translate" and model.startswith("whisper-"))

    def transcribe_file(self, path: Path, filename: str, model: str, options: TranscriptionOptions) -> Transcript:
        duration = audio.probe(path).duration
        with path.open("rb") as handle:
            return self._call((filename, handle, mime_type_for(filename)), model, options, duration)

    def transcribe_pcm(self, samples: np.ndarray, model: str, options: TranscriptionOptions) -> Transcript:
        # Chunks travel as 16 kHz mono FLAC: about 1 MB per 30 s, far under OpenAI's 25 MB cap.
        temp_dir = transcription_config().temp_dir
        temp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(suffix=".flac", dir=temp_dir) as tmp:
            audio.encode_pcm(samples, Path(tmp.name), "flac")
            duration = len(samples) / audio.WHISPER_SAMPLE_RATE
            with open(tmp.name, "rb") as handle:
                return self._call(("chunk.flac", handle, "audio/flac"), model, options, duration)

    def _call(
        self, file: tuple[str, Any, str], model: str, options: TranscriptionOptions, duration: float
    ) -> Transcript:
        if self._client is None:
            raise ServiceUnavailable("OpenAI client not initialized - check OPENAI_API_KEY")
        if not self.supports_task(model, options.task):
            raise TaskUnsupported(f"model {model} cannot {options.task}; translation needs whisper-1")
        translate = options.task == "translate"
        params: dict[str, Any] = {"file": file, "model": model}
        if options.language and not translate:  # translations take no language: the output is English
            params["language"] = options.language
        if options.prompt:
            params["prompt"] = options.prompt
        if options.temperature:  # 0 and None both mean OpenAI's default (its fallback schedule)
            params["temperature"] = options.temperature
        verbose = self.detects_language(model)
        if verbose:
            params["response_format"] = "verbose_json"
            if not translate:  # /audio/translations has no word timings
                params["timestamp_granularities"] = ["segment", "word"] if options.word_timestamps else ["segment"]
        else:
            params["response_format"] = "json"
        try:
            endpoint = self._client.audio.translations if translate else self._client.audio.transcriptions
            with metrics.model_timer("transcription", self.metrics_provider, metrics_model(model)):
                response = endpoint.create(**params)
        except openai.OpenAIError as exc:
            raise map_provider_error(exc, "OpenAI", "transcription", "OPENAI_API_KEY", "OPENAI_BASE_URL") from exc
        return _transcript(response, model, options, duration, verbose)


def metrics_model(model: str) -> str:
    """A metric label for ``model``: OpenAI's transcription models or the configured one, else "other"."""
    return metrics.bounded(model, (*OPENAI_MODELS, transcription_config().openai_model))


def _transcript(response: Any, model: str, options: TranscriptionOptions, duration: float, verbose: bool) -> Transcript:
    text = getattr(response, "text", None)
    if not isinstance(text, str):
        raise UpstreamError("OpenAI returned a transcription without text")
    if not verbose:
        segments = [Segment(0.0, duration, text.strip())] if text.strip() else []
        return Transcript(text.strip(), options.language, duration, model, segments, language_detected=False)
    # Translations have no word timings (the SDK leaves a compatible server's extra "words" as raw dicts).
    raw_words = (getattr(response, "words", None) or []) if options.task != "translate" else []
    words = [Word(float(w.start), float(w.end), w.word.strip()) for w in raw_words]
    segments = [_segment(raw, words) for raw in (getattr(response, "segments", None) or [])]
    detected = language_code(getattr(response, "language", None))
    return Transcript(
        text=text.strip(),
        language=detected or options.language,
        duration=float(getattr(response, "duration", None) or duration),
        model=model,
        segments=segments,
        language_detected=options.language is None and detected is not None,
    )


def _segment(raw: Any, words: list[Word]) -> Segment:
    start, end = float(raw.start), float(raw.end)
    # OpenAI lists words separately; give each segment the words whose midpoint falls inside it.
    inside = tuple(w for w in words if start <= (w.start + w.end) / 2 < end)
    return Segment(start, end, raw.text.strip(), inside, raw.avg_logprob, raw.no_speech_prob)
