"""Audio decoding, probing and format conversion with PyAV (its wheels carry FFmpeg).

Everything here works on files on disk, so large uploads never have to sit in memory whole.
Failures raise ``AudioError`` with a message fit for the client (a 400, never a stack trace).

Durations are always measured by decoding, never taken from the header: a FLAC whose STREAMINFO
claims 10 s can hold 5 h of audio (a few MB of silence), and a streamed WAV may claim 13 h and hold
3 s. Every pass over the samples takes a ``max_seconds`` and stops as soon as it is passed
(``AudioTooLong``), so no file decodes further than the limit whatever its header says.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.audio.frame import AudioFrame
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet

logger = logging.getLogger("mlservice.transcription.audio")

WHISPER_SAMPLE_RATE = 16_000


class AudioError(ValueError):
    """The file is not audio we can decode (corrupt, truncated, no audio stream)."""


class AudioTooLong(AudioError):
    """More decoded audio than the caller allows (a 413)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        super().__init__(f"Audio is too long: more than {limit:.0f} s of decoded audio (limit {limit:.0f} s)")


class OutputTooLarge(AudioError):
    """A conversion would write more bytes than the caller allows (a 413)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"Converted audio is too large: more than {limit} bytes (limit {limit} bytes)")


@dataclass(frozen=True)
class AudioInfo:
    duration: float
    sample_rate: int
    channels: int
    codec: str
    container: str


@dataclass(frozen=True)
class OutputFormat:
    container: str
    codec: str
    mime_type: str
    # Sample rates the encoder accepts (None: any); we pick the nearest one.
    sample_rates: tuple[int, ...] | None = None
    sample_format: str | None = None


_OPUS_RATES = (48_000, 24_000, 16_000, 12_000, 8_000)
_MP3_RATES = (48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000)
_AAC_RATES = (96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000)

# The ten formats of /transcription/formats. Ogg uses Opus: FFmpeg's own Vorbis encoder is
# experimental and libvorbis is not in the PyAV wheels.
OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "wav": OutputFormat("wav", "pcm_s16le", "audio/wav", None, "s16"),
    "flac": OutputFormat("flac", "flac", "audio/flac", None, "s16"),
    "mp3": OutputFormat("mp3", "libmp3lame", "audio/mpeg", _MP3_RATES, "s16p"),
    "mpeg": OutputFormat("mp3", "libmp3lame", "audio/mpeg", _MP3_RATES, "s16p"),
    "mpga": OutputFormat("mp3", "libmp3lame", "audio/mpeg", _MP3_RATES, "s16p"),
    "ogg": OutputFormat("ogg", "libopus", "audio/ogg", _OPUS_RATES, "s16"),
    "oga": OutputFormat("ogg", "libopus", "audio/ogg", _OPUS_RATES, "s16"),
    "webm": OutputFormat("webm", "libopus", "audio/webm", _OPUS_RATES, "s16"),
    "m4a": OutputFormat("ipod", "aac", "audio/mp4", _AAC_RATES, "fltp"),
    "mp4": OutputFormat("mp4", "aac", "audio/mp4", _AAC_RATES, "fltp"),
}


def probe(path: Path, max_seconds: float | None = None) -> AudioInfo:
    """Stream facts from the container and the duration measured by decoding (headers can lie)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = _audio_stream(container)
            facts = (
                stream.codec_context.sample_rate or 0,
                stream.codec_context.channels or 0,
                stream.codec_context.name,
                container.format.name,
            )
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise AudioError(f"Could not decode audio file: {_reason(exc)}") from exc
    return AudioInfo(measure_duration(path, max_seconds), *facts)


def measure_duration(path: Path, max_seconds: float | None = None) -> float:
    """Seconds of audio, counted from decoded frames; ``AudioTooLong`` once past ``max_seconds``."""
    samples: dict[int, int] = {}  # per sample rate: exact sums, whatever the number of frames
    seconds = 0.0
    with contextlib.closing(_frames(path)) as frames:
        for frame in frames:
            if frame.sample_rate:
                samples[frame.sample_rate] = samples.get(frame.sample_rate, 0) + frame.samples
                seconds += frame.samples / frame.sample_rate
            if max_seconds is not None and seconds > max_seconds:
                raise AudioTooLong(max_seconds)
    return sum(count / rate for rate, count in samples.items())


def decode(path: Path, sample_rate: int = WHISPER_SAMPLE_RATE, max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 PCM in [-1, 1] at ``sample_rate``, the input Whisper expects.

    The whole signal is returned: callers pass ``max_seconds`` (or use ``pcm_blocks``) for any
    file whose length they have not bounded.
    """
    pieces = list(pcm_blocks(path, sample_rate, max_seconds))
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces)


def pcm_blocks(
    path: Path, sample_rate: int = WHISPER_SAMPLE_RATE, max_seconds: float | None = None
) -> Generator[np.ndarray, None, None]:
    """The file as consecutive mono float32 blocks (one per decoded frame): memory stays at one frame."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
    limit = None if max_seconds is None else int(max_seconds * sample_rate)
    produced = 0
    # closing(): a caller that stops early (or a limit hit) closes the file at once, not at GC.
    with contextlib.closing(_frames(path)) as frames:
        try:
            for frame in itertools.chain(frames, [None]):
                for out in resampler.resample(frame):
                    block = out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
                    produced += len(block)
                    if max_seconds is not None and limit is not None and produced > limit:
                        raise AudioTooLong(max_seconds)
                    yield block
        except AudioError:
            raise
        except (av.error.FFmpegError, ValueError) as exc:
            raise AudioError(f"Could not decode audio file: {_reason(exc)}") from exc


def convert(
    source: Path,
    target: Path,
    fmt: str,
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    bitrate: int | None = None,
    max_seconds: float | None = None,
    max_bytes: int | None = None,
) -> AudioInfo:
    """Re-encode ``source`` into ``target`` as ``fmt``; returns facts about the output.

    Stops with ``AudioTooLong`` past ``max_seconds`` of output and with ``OutputTooLarge`` once the
    encoded packets pass ``max_bytes``: a small, well-compressed upload (minutes of silence as FLAC)
    can otherwise become hundreds of MB of WAV at 192 kHz.
    """
    spec = OUTPUT_FORMATS[fmt]
    try:
        with av.open(str(source), metadata_errors="ignore") as src:
            in_stream = _audio_stream(src)
            rate = _nearest_rate(sample_rate or in_stream.codec_context.sample_rate or 44_100, spec.sample_rates)
            n_channels = channels or min(in_stream.codec_context.channels or 1, 2)
            layout = "mono" if n_channels == 1 else "stereo"
            with av.open(str(target), mode="w", format=spec.container) as dst:
                out_stream = _add_audio_stream(dst, spec.codec, rate, layout)
                if bitrate:
                    out_stream.codec_context.bit_rate = bitrate
                resampler = av.AudioResampler(
                    format=spec.sample_format or out_stream.format.name, layout=layout, rate=rate
                )
                budget = _Budget(rate, max_seconds, max_bytes)
                for frame in itertools.chain(_decoded(src, in_stream), [None]):
                    for out in resampler.resample(frame):
                        budget.add_samples(out.samples)
                        dst.mux(budget.counted(out_stream.encode(out)))
                dst.mux(budget.counted(out_stream.encode(None)))
        return AudioInfo(budget.samples / rate, rate, n_channels, spec.codec, spec.container)
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise AudioError(f"Could not convert audio file: {_reason(exc)}") from exc


def encode_pcm(samples: np.ndarray, target: Path, fmt: str = "flac", sample_rate: int = WHISPER_SAMPLE_RATE) -> None:
    """Write mono float32 PCM to a file (chunks sent to a remote engine)."""
    spec = OUTPUT_FORMATS[fmt]
    pcm = np.clip(samples * 32768.0, -32768, 32767).astype(np.int16).reshape(1, -1)
    with av.open(str(target), mode="w", format=spec.container) as dst:
        stream = _add_audio_stream(dst, spec.codec, sample_rate, "mono")
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = sample_rate
        resampler = av.AudioResampler(format=spec.sample_format or "s16", layout="mono", rate=sample_rate)
        for out in resampler.resample(frame):
            dst.mux(stream.encode(out))
        for out in resampler.resample(None):
            dst.mux(stream.encode(out))
        dst.mux(stream.encode(None))


def _frames(path: Path) -> Generator[AudioFrame, None, None]:
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = _audio_stream(container)
            yield from _decoded(container, stream)
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise AudioError(f"Could not decode audio file: {_reason(exc)}") from exc


def _decoded(container: InputContainer, stream: AudioStream) -> Iterator[AudioFrame]:
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            # One damaged packet in an otherwise good file: skip it as ffmpeg does.
            logger.debug("Skipping an undecodable packet")


class _Budget:
    """Samples and encoded bytes written by one conversion, checked against its limits."""

    def __init__(self, rate: int, max_seconds: float | None, max_bytes: int | None) -> None:
        self.rate = rate
        self.max_seconds = max_seconds
        self.max_bytes = max_bytes
        self.samples = 0
        self.bytes = 0

    def add_samples(self, count: int) -> None:
        self.samples += count
        if self.max_seconds is not None and self.samples > self.max_seconds * self.rate:
            raise AudioTooLong(self.max_seconds)

    def counted(self, packets: list[Packet[AudioStream]]) -> list[Packet[AudioStream]]:
        self.bytes += sum(packet.size for packet in packets)
        if self.max_bytes is not None and self.bytes > self.max_bytes:
            raise OutputTooLarge(self.max_bytes)
        return packets


def _audio_stream(container: InputContainer) -> AudioStream:
    if not container.streams.audio:
        raise AudioError("Could not decode audio file: it contains no audio stream")
    # FFmpeg's default (slice) threading: frame threading ("AUTO") made FLAC decode 3x slower
    # (1 h of 16 kHz FLAC: 10.7 s against 3.0 s), and every upload is decoded in full to measure it.
    return container.streams.audio[0]


def _add_audio_stream(dst: OutputContainer, codec: str, rate: int, layout: str) -> AudioStream:
    # add_stream(str) is typed as any stream kind; every codec of OUTPUT_FORMATS is an audio one.
    stream = dst.add_stream(codec, rate=rate, layout=layout)
    if not isinstance(stream, AudioStream):
        raise AudioError(f"Codec {codec} is not an audio codec")
    return stream


def _nearest_rate(rate: int, allowed: tuple[int, ...] | None) -> int:
    if not allowed:
        return rate
    return min(allowed, key=lambda candidate: (abs(candidate - rate), -candidate))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__
