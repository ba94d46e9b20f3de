"""Transcription benchmark: accuracy (WER) and speed (real-time factor) of the local engine,
directly and through our HTTP API, plus audio-conversion throughput.

Usage: .venv/bin/python benchmarks/transcription.py [--skip-http] [--repeats 2]

- Data: the 4 LibriSpeech test-clean utterances in ../shared/eval/librispeech (read in place) and
  sentences synthesised with espeak-ng (skipped when it is not installed).
- Reference: Whisper tiny.en's published WER on the full test-clean set (about 5.6%, with
  Whisper's text normaliser). Four utterances are a smoke and latency test, not a WER estimate;
  our normaliser only lower-cases and drops punctuation, so spelling variants count as errors.
- Models (issue 15): tiny.en and base side by side in the same run, WER and RTF directly and
  through the HTTP API (one server per model), and the CPU-seconds 10 s of silence and of a 440 Hz
  tone cost (Silero VAD keeps them from Whisper). ``--models-only`` runs just that part.
- Real-time factor (RTF) = processing seconds / audio seconds; the goal is < 0.3 on this CPU.
  RTF is wall time: on a loaded machine it is indicative only (CPU-seconds are printed beside it).
  Baselines in the same run: greedy decoding (beam 1) against the default beam 5, the chunked
  long-audio path against one pass over the same audio, HTTP against direct calls, and conversion
  against decoding alone.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlservice.settings.test")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import django

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import override_settings  # noqa: E402

from services import transcription_service  # noqa: E402
from services.transcription import audio  # noqa: E402
from services.transcription.chunking import transcribe_chunked  # noqa: E402
from services.transcription.metrics import word_errors  # noqa: E402
from services.transcription.types import TranscriptionOptions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LIBRISPEECH = ROOT.parent / "shared" / "eval" / "librispeech"
PUBLISHED_WER = 0.056  # Whisper tiny.en, LibriSpeech test-clean (Whisper paper)
RTF_GOAL = 0.3
SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please schedule the meeting for Tuesday morning at ten.",
    "Our quarterly revenue grew by twelve percent this year.",
    "The new release fixes three bugs in the payment service.",
    "Remember to back up the database before the migration.",
)


@dataclass(frozen=True)
class Clip:
    name: str
    path: Path
    text: str
    duration: float


@dataclass
class Score:
    errors: int = 0
    words: int = 0
    seconds: float = 0.0
    audio: float = 0.0

    def add(self, reference: str, hypothesis: str, seconds: float, duration: float) -> None:
        errors, words = word_errors(reference, hypothesis)
        self.errors += errors
        self.words += words
        self.seconds += seconds
        self.audio += duration

    @property
    def wer(self) -> float:
        return self.errors / max(self.words, 1)

    @property
    def rtf(self) -> float:
        return self.seconds / max(self.audio, 1e-9)


def librispeech_clips() -> list[Clip]:
    references = {}
    for transcript in LIBRISPEECH.glob("*.trans.txt"):
        for line in transcript.read_text().splitlines():
            key, _, text = line.partition(" ")
            references[key] = text
    return [
        Clip(path.stem, path, references[path.stem], audio.probe(path).duration)
        for path in sorted(LIBRISPEECH.glob("*.flac"))
    ]


def espeak_clips(folder: Path) -> list[Clip]:
    binary = shutil.which("espeak-ng")
    if binary is None:
        print("  espeak-ng not installed: synthesised speech skipped (apt-get install espeak-ng)")
        return []
    clips = []
    for index, sentence in enumerate(SENTENCES):
        path = folder / f"espeak{index}.wav"
        subprocess.run([binary, "-v", "en-us", "-s", "150", "-w", str(path), sentence], check=True)
        clips.append(Clip(f"espeak-{index}", path, sentence, audio.probe(path).duration))
    return clips


def long_clip(clips: list[Clip], folder: Path) -> tuple[Clip, np.ndarray]:
    pause = np.zeros(8000, dtype=np.float32)
    pcm = np.concatenate([piece for clip in clips for piece in (audio.decode(clip.path), pause)])
    path = folder / "long.flac"
    audio.encode_pcm(pcm, path, "flac")
    text = " ".join(clip.text for clip in clips)
    return Clip("long", path, text, len(pcm) / audio.WHISPER_SAMPLE_RATE), pcm


# --- direct and through HTTP, interleaved so that both see the same machine load
def measure(clips: list[Clip], repeats: int, http_url: str | None) -> dict[str, tuple[Score, list]]:
    """Each clip is run by every variant in turn, ``repeats`` times; the median time counts."""
    import httpx

    engine = transcription_service.get_instance().local
    client = httpx.Client(timeout=300)

    def local(beam: int):
        def run(clip: Clip) -> str:
            with override_settings(TRANSCRIPTION_BEAM_SIZE=beam):
                pcm = audio.decode(clip.path)
                return engine.transcribe_pcm(pcm, engine.model_name, TranscriptionOptions()).text

        return run

    def http(clip: Clip) -> str:
        response = client.post(http_url, files={"file": (clip.path.name, clip.path.read_bytes())})
        response.raise_for_status()
        return response.json()["transcription"]["text"]

    variants = {"direct, beam 5": local(5), "direct, greedy": local(1)}
    if http_url:
        variants["HTTP API (granian, 1 worker)"] = http
    results: dict[str, tuple[Score, list]] = {name: (Score(), []) for name in variants}
    for clip in clips:
        timings: dict[str, list[float]] = {name: [] for name in variants}
        texts: dict[str, str] = {}
        for _ in range(repeats):
            for name, run in variants.items():
                started = time.perf_counter()
                texts[name] = run(clip)
                timings[name].append(time.perf_counter() - started)
        for name in variants:
            seconds = statistics.median(timings[name])
            score, rows = results[name]
            score.add(clip.text, texts[name], seconds, clip.duration)
            rows.append((clip, texts[name], seconds))
    client.close()
    return results


def long_audio(clip: Clip, pcm: np.ndarray) -> tuple[Score, Score]:
    engine = transcription_service.get_instance().local
    options = TranscriptionOptions()
    single, chunked = Score(), Score()
    started = time.perf_counter()
    text = engine.transcribe_pcm(pcm, engine.model_name, options).text
    single.add(clip.text, text, time.perf_counter() - started, clip.duration)
    started = time.perf_counter()
    text = transcribe_chunked(
        pcm,
        lambda samples, opts: engine.transcribe_pcm(samples, engine.model_name, opts),
        options,
        window=settings.TRANSCRIPTION_CHUNK_SECONDS,
        overlap=settings.TRANSCRIPTION_CHUNK_OVERLAP_SECONDS,
    ).text
    chunked.add(clip.text, text, time.perf_counter() - started, clip.duration)
    return single, chunked


@contextlib.contextmanager
def http_server(enabled: bool):
    if not enabled:
        yield None
        return
    import httpx

    from benchmarks._harness import django_server

    # One worker: the model is loaded once and requests run one after another, like direct calls.
    with django_server("granian", workers=1, WARM_MODELS_ON_START="true") as base:
        url = f"{base}/api/v1/transcription/transcribe"
        warm = next(LIBRISPEECH.glob("*.flac"))
        httpx.post(url, files={"file": (warm.name, warm.read_bytes())}, timeout=300).raise_for_status()
        yield url


# --- tiny.en against base, same clips, same run
MODELS = ("tiny.en", "base")


def non_speech() -> dict[str, np.ndarray]:
    rate = audio.WHISPER_SAMPLE_RATE
    t = np.arange(10 * rate) / rate
    return {
        "10 s silence": np.zeros(10 * rate, dtype=np.float32),
        "10 s 440 Hz tone": (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
    }


def compare_models(clips: list[Clip], repeats: int, with_http: bool) -> None:
    """WER, RTF (wall) and CPU-seconds per model; the HTTP figures come from a server per model."""
    import httpx

    print("\n== Models (beam 5; RTF is wall time under this machine's load: indicative only)")
    for name in MODELS:
        with override_settings(TRANSCRIPTION_LOCAL_MODEL=name):
            engine = transcription_service.get_instance().local
            started = time.perf_counter()
            engine.load()
            load = time.perf_counter() - started
            engine.transcribe_pcm(audio.decode(clips[0].path), engine.model_name, TranscriptionOptions())  # warm-up
            direct, cpu = Score(), 0.0
            for clip in clips:
                pcm = audio.decode(clip.path)
                walls, text = [], ""
                for _ in range(repeats):
                    cpu_started, started = time.process_time(), time.perf_counter()
                    text = engine.transcribe_pcm(pcm, engine.model_name, TranscriptionOptions()).text
                    walls.append(time.perf_counter() - started)
                    cpu += (time.process_time() - cpu_started) / repeats
                direct.add(clip.text, text, statistics.median(walls), clip.duration)
            quiet = []
            for label, pcm in non_speech().items():
                cpu_started = time.process_time()
                transcript = engine.transcribe_pcm(pcm, engine.model_name, TranscriptionOptions())
                quiet.append(
                    f"{label}: {time.process_time() - cpu_started:.2f} CPU-s, "
                    f"{transcript.speech_seconds} s decoded, text {transcript.text!r}"
                )
        summary(f"{engine.model_name}, direct (load {load:.1f}s)", direct)
        print(f"  {'':<48} CPU-s per audio-s {cpu / direct.audio:5.3f}")
        if with_http:
            http = Score()
            with django_http(TRANSCRIPTION_LOCAL_MODEL=name) as url, httpx.Client(timeout=300) as client:
                for clip in clips:
                    walls, text = [], ""
                    for _ in range(repeats):
                        started = time.perf_counter()
                        response = client.post(url, files={"file": (clip.path.name, clip.path.read_bytes())})
                        response.raise_for_status()
                        walls.append(time.perf_counter() - started)
                        text = response.json()["transcription"]["text"]
                    http.add(clip.text, text, statistics.median(walls), clip.duration)
            summary(f"{engine.model_name}, HTTP API (granian, 1 worker)", http)
        for line in quiet:
            print(f"  {'':<48} {line}")


@contextlib.contextmanager
def django_http(**env: str):
    import httpx

    from benchmarks._harness import django_server

    with django_server("granian", workers=1, WARM_MODELS_ON_START="true", **env) as base:
        url = f"{base}/api/v1/transcription/transcribe"
        warm = next(LIBRISPEECH.glob("*.flac"))
        httpx.post(url, files={"file": (warm.name, warm.read_bytes())}, timeout=300).raise_for_status()
        yield url


# --- conversion
def conversion(source: Path, seconds_of_audio: float, folder: Path, http_base: str | None) -> None:
    started = time.perf_counter()
    audio.decode(source, sample_rate=audio.probe(source).sample_rate)
    decode_rate = seconds_of_audio / (time.perf_counter() - started)
    print(f"  {'decode to PCM (baseline)':<24} {decode_rate:8.0f} audio-s/s   1.00x")
    for fmt in ("wav", "flac", "mp3", "ogg", "webm", "m4a"):
        target = folder / f"converted.{fmt}"
        started = time.perf_counter()
        audio.convert(source, target, fmt)
        rate = seconds_of_audio / (time.perf_counter() - started)
        size_kb = target.stat().st_size / 1024
        print(f"  {'-> ' + fmt:<24} {rate:8.0f} audio-s/s   {rate / decode_rate:4.2f}x of decode   {size_kb:7.0f} KiB")
    if http_base:
        import httpx

        data = source.read_bytes()
        for fmt in ("wav", "mp3"):
            started = time.perf_counter()
            response = httpx.post(
                f"{http_base}/api/v1/transcription/convert",
                files={"file": (source.name, data)},
                data={"target_format": fmt},
                timeout=300,
            )
            response.raise_for_status()
            rate = seconds_of_audio / (time.perf_counter() - started)
            label = f"HTTP convert -> {fmt}"
            print(
                f"  {label:<24} {rate:8.0f} audio-s/s   {rate / decode_rate:4.2f}x of decode   {len(response.content) / 1024:7.0f} KiB"
            )


def print_rows(rows: list[tuple[Clip, str, float]]) -> None:
    for clip, text, seconds in rows:
        errors, words = word_errors(clip.text, text)
        print(
            f"  {clip.name:<18} {clip.duration:5.1f}s  RTF {seconds / clip.duration:5.3f}  WER {errors}/{words}  {text[:60]!r}"
        )


def summary(label: str, score: Score, baseline: Score | None = None, baseline_label: str = "direct beam 5") -> None:
    ratio = f"   time x{score.seconds / baseline.seconds:4.2f} of {baseline_label}" if baseline else ""
    goal = "meets" if score.rtf < RTF_GOAL else "MISSES"
    print(
        f"  {label:<48} WER {score.wer:6.1%} ({score.errors:>2}/{score.words} words)   "
        f"RTF {score.rtf:5.3f} ({goal} < {RTF_GOAL}){ratio}"
    )


def main() -> None:
    for noisy in ("httpx", "faster_whisper", "mlservice"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs per clip; the median time counts")
    parser.add_argument("--skip-http", action="store_true", help="skip the measurement through the HTTP API")
    parser.add_argument("--models-only", action="store_true", help="only compare tiny.en and base")
    args = parser.parse_args()
    if args.models_only:
        compare_models(librispeech_clips(), args.repeats, not args.skip_http)
        return

    service = transcription_service.get_instance()
    engine = service.local
    print(f"Local engine: faster-whisper {engine.model_name} (int8, {settings.TRANSCRIPTION_LOCAL_THREADS} threads)")
    print(f"Model folder: {engine.model_path()}  (HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE')})")
    started = time.perf_counter()
    engine.load()
    print(f"Model load: {time.perf_counter() - started:.2f}s; CPUs: {os.cpu_count()}")
    print(
        f"Reference: published tiny.en WER on full LibriSpeech test-clean = {PUBLISHED_WER:.1%}; RTF goal < {RTF_GOAL}"
    )

    with tempfile.TemporaryDirectory(prefix="bench-transcription-") as tmp, http_server(not args.skip_http) as url:
        folder = Path(tmp)
        libri = librispeech_clips()
        synth = espeak_clips(folder)
        engine.transcribe_pcm(audio.decode(libri[0].path), engine.model_name, TranscriptionOptions())  # warm-up

        libri_results = measure(libri, args.repeats, url)
        synth_results = measure(synth, args.repeats, url) if synth else {}
        print("\n== Direct (engine call, beam 5), per clip")
        print_rows(libri_results["direct, beam 5"][1])
        if synth:
            print_rows(synth_results["direct, beam 5"][1])

        long, pcm = long_clip(libri + synth, folder)
        single, chunked = long_audio(long, pcm)

        print("\n== Summary (time ratios against direct beam 5 on the same clips, measured interleaved)")
        for label, results in (("LibriSpeech x4", libri_results), (f"espeak-ng x{len(synth)}", synth_results)):
            if not results:
                continue
            base = results["direct, beam 5"][0]
            for name, (score, _) in results.items():
                summary(f"{label}, {name}", score, None if name == "direct, beam 5" else base)
        summary(f"long {long.duration:.0f}s, one pass", single)
        summary(
            f"long {long.duration:.0f}s, chunked {settings.TRANSCRIPTION_CHUNK_SECONDS:.0f}s/"
            f"{settings.TRANSCRIPTION_CHUNK_OVERLAP_SECONDS:.0f}s overlap",
            chunked,
            single,
            "one pass",
        )

        compare_models(libri, args.repeats, not args.skip_http)

        print(f"\n== Conversion throughput ({long.duration:.0f}s of 16 kHz FLAC speech)")
        conversion(long.path, long.duration, folder, url.rsplit("/api/v1/", 1)[0] if url else None)


if __name__ == "__main__":
    main()
