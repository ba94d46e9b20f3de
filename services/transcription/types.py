"""Value types shared by the engines, the stitcher and the output formats."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# Whisper's language table (code -> name, as the OpenAI API reports it in verbose_json).
WHISPER_LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao",
    "uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
    "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala", "ha": "hausa",
    "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}  # fmt: skip
LANGUAGE_CODES_BY_NAME = {name: code for code, name in WHISPER_LANGUAGES.items()}

# Whisper's two tasks: text in the spoken language, or English text from any language.
TASKS = ("transcribe", "translate")


class TaskUnsupported(ValueError):
    """The model cannot do the requested task (English-only Whisper cannot translate): a 400."""


def language_code(value: str | None) -> str | None:
    """ISO code for a code or a Whisper language name ("en", "English", "english")."""
    if not value:
        return None
    lowered = value.strip().lower()
    if lowered in WHISPER_LANGUAGES:
        return lowered
    return LANGUAGE_CODES_BY_NAME.get(lowered)


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    avg_logprob: float | None = None
    no_speech_prob: float | None = None

    def shifted(self, offset: float) -> Segment:
        return replace(
            self,
            start=self.start + offset,
            end=self.end + offset,
            words=tuple(replace(w, start=w.start + offset, end=w.end + offset) for w in self.words),
        )


@dataclass(frozen=True)
class TranscriptionOptions:
    language: str | None = None  # ISO code; None: detect (where the engine can)
    prompt: str | None = None
    word_timestamps: bool = True
    task: str = "transcribe"  # one of TASKS
    # OpenAI's `temperature` (0..1). None or 0: Whisper's fallback schedule (0.0, 0.2 ... 1.0, the next
    # tried when a decode looks like a loop); t > 0 starts the schedule at t, as openai-whisper does.
    temperature: float | None = None

    @property
    def temperatures(self) -> tuple[float, ...]:
        start = min(max(self.temperature or 0.0, 0.0), 1.0)
        steps = int((1.0 - start) / 0.2 + 1e-9)
        return tuple(round(start + 0.2 * step, 4) for step in range(steps + 1))


@dataclass
class Transcript:
    text: str
    language: str | None  # ISO code, None when unknown
    duration: float
    model: str
    segments: list[Segment] = field(default_factory=list)
    # True when the engine detected the language; False when it was requested or fixed by the model.
    language_detected: bool = False
    language_probability: float | None = None
    # Seconds of audio the model decoded after VAD (None: the engine does not say; remote engines).
    speech_seconds: float | None = None

    @property
    def language_name(self) -> str | None:
        return WHISPER_LANGUAGES.get(self.language or "", self.language)

    @property
    def words(self) -> list[Word]:
        return [word for segment in self.segments for word in segment.words]


class TranscriptionEngine(Protocol):
    """One speech-to-text backend."""

    backend: str  # shown by /transcription/health ("whisper-local", "whisper-api")

    def is_available(self) -> bool: ...

    def detects_language(self, model: str) -> bool: ...

    def supports_language(self, model: str, code: str) -> bool: ...

    def supports_task(self, model: str, task: str) -> bool: ...

    def transcribe_file(self, path: Path, filename: str, model: str, options: TranscriptionOptions) -> Transcript:
        """A whole file on disk, in any format PyAV reads (already probed by the caller)."""
        ...

    def transcribe_pcm(self, samples: np.ndarray, model: str, options: TranscriptionOptions) -> Transcript:
        """Mono float32 PCM at 16 kHz (one chunk of a long file)."""
        ...


def transcript_to_dict(transcript: Transcript) -> dict[str, Any]:
    """A JSON-safe copy kept with a finished job, from which every response format can be rendered."""
    return {
        "text": transcript.text,
        "language": transcript.language,
        "duration": transcript.duration,
        "model": transcript.model,
        "language_detected": transcript.language_detected,
        "language_probability": transcript.language_probability,
        "speech_seconds": transcript.speech_seconds,
        "segments": [
            {
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "avg_logprob": s.avg_logprob,
                "no_speech_prob": s.no_speech_prob,
                "words": [[w.start, w.end, w.word, w.probability] for w in s.words],
            }
            for s in transcript.segments
        ],
    }


def transcript_from_dict(data: dict[str, Any]) -> Transcript:
    return Transcript(
        text=data["text"],
        language=data.get("language"),
        duration=float(data["duration"]),
        model=data["model"],
        language_detected=bool(data.get("language_detected")),
        language_probability=data.get("language_probability"),
        speech_seconds=data.get("speech_seconds"),
        segments=[
            Segment(
                start=s["start"],
                end=s["end"],
                text=s["text"],
                words=tuple(Word(*w) for w in s.get("words", [])),
                avg_logprob=s.get("avg_logprob"),
                no_speech_prob=s.get("no_speech_prob"),
            )
            for s in data.get("segments", [])
        ],
    )


@dataclass(frozen=True)
class EngineChoice:
    engine: TranscriptionEngine
    model: str
