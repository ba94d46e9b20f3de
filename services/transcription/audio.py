"""Audio decoding, probing and format conversion with PyAV (its wheels carry FFmpeg).

Everything here works on files on disk, so large uploads never have to sit in memory whole.
Failures raise ``AudioError`` with a message fit for the client (a 400, never a stack trace).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

logger = logging.getLogger("mlservice.transcription.audio")

WHISPER_SAMPLE_RATE = 16_000


class AudioError(ValueError):
    """The file is not audio we can decode (corrupt, truncated, no audio stream)."""


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


def probe(path: Path) -> AudioInfo:
    """Duration and stream facts. The duration is measured by decoding when the container lacks it."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = _audio_stream(container)
            duration = _declared_duration(container, stream)
            info = AudioInfo(
                duration=duration if duration is not None else 0.0,
                sample_rate=stream.codec_context.sample_rate or 0,
                channels=stream.codec_context.channels or 0,
                codec=stream.codec_context.name,
                container=container.format.name,
            )
        if duration is None:
            info = AudioInfo(measure_duration(path), info.sample_rate, info.channels, info.codec, info.container)
        return info
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise AudioError(f"Could not decode audio file: {_reason(exc)}") from exc


def measure_duration(path: Path) -> float:
    """Seconds of audio, counted from decoded frames (exact even when the header is missing or wrong)."""
    samples = 0
    rate = 0
    for frame in _frames(path):
        samples += frame.samples
        rate = frame.sample_rate or rate
    return samples / rate if rate else 0.0


def decode(path: Path, sample_rate: int = WHISPER_SAMPLE_RATE) -> np.ndarray:
    """Mono float32 PCM in [-1, 1] at ``sample_rate``, the input Whisper expects."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
    pieces: list[np.ndarray] = []
    try:
        for frame in _frames(path):
            for out in resampler.resample(frame):
                pieces.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            pieces.append(out.to_ndarray().reshape(-1))
    except (av.error.FFmpegError, ValueError) as exc:
        raise AudioError(f"Could not decode audio file: {_reason(exc)}") from exc
    if not pieces:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(pieces).astype(np.float32) / 32768.0


def convert(
    source: Path,
    target: Path,
    fmt: str,
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    bitrate: int | None = None,
) -> AudioInfo:
    """Re-encode ``source`` into ``target`` as ``fmt``; returns facts about the output."""
    spec = OUTPUT_FORMATS[fmt]
    try:
        with av.open(str(source), metadata_errors="ignore") as src:
            in_stream = _audio_stream(src)
            rate = _nearest_rate(sample_rate or in_stream.codec_context.sample_rate or 44_100, spec.sample_rates)
            n_channels = channels or min(in_stream.codec_context.channels or 1, 2)
            layout = "mono" if n_channels == 1 else "stereo"
            with av.open(str(target), mode="w", format=spec.container) as dst:
                out_stream = dst.add_stream(spec.codec, rate=rate, layout=layout)
                if bitrate:
                    out_stream.codec_context.bit_rate = bitrate
                resampler = av.AudioResampler(
                    format=spec.sample_format or out_stream.format.name, layout=layout, rate=rate
                )
                samples = 0
                for frame in _decoded(src, in_stream):
                    for out in resampler.resample(frame):
                        samples += out.samples
                        dst.mux(out_stream.encode(out))
                for out in resampler.resample(None):
                    samples += out.samples
                    dst.mux(out_stream.encode(out))
                dst.mux(out_stream.encode(None))
        return AudioInfo(samples / rate, rate, n_channels, spec.codec, spec.container)
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise AudioError(f"Could not convert audio file: {_reason(exc)}") from exc


def encode_pcm(samples: np.ndarray, target: Path, fmt: str = "flac", sample_rate: int = WHISPER_SAMPLE_RATE) -> None:
    """Write mono float32 PCM to a file (chunks sent to a remote engine)."""
    spec = OUTPUT_FORMATS[fmt]
    pcm = np.clip(samples * 32768.0, -32768, 32767).astype(np.int16).reshape(1, -1)
    with av.open(str(target), mode="w", format=spec.container) as dst:
        stream = dst.add_stream(spec.codec, rate=sample_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = sample_rate
        resampler = av.AudioResampler(format=spec.sample_format or "s16", layout="mono", rate=sample_rate)
        for out in resampler.resample(frame):
            dst.mux(stream.encode(out))
        for out in resampler.resample(None):
            dst.mux(stream.encode(out))
        dst.mux(stream.encode(None))


def _frames(path: Path):
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = _audio_stream(container)
            yield from _decoded(container, stream)
    except AudioError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as exc:
        raise AudioError(f"Could not decode audio file: {_reason(exc)}") from exc


def _decoded(container, stream):
    for packet in container.demux(stream):
        try:
            yield from packet.decode()
        except av.error.InvalidDataError:
            # One damaged packet in an otherwise good file: skip it as ffmpeg does.
            logger.debug("Skipping an undecodable packet")


def _audio_stream(container):
    if not container.streams.audio:
        raise AudioError("Could not decode audio file: it contains no audio stream")
    stream = container.streams.audio[0]
    stream.thread_type = "AUTO"
    return stream


def _declared_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _nearest_rate(rate: int, allowed: tuple[int, ...] | None) -> int:
    if not allowed:
        return rate
    return min(allowed, key=lambda candidate: (abs(candidate - rate), -candidate))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError):
        return exc.strerror or type(exc).__name__
    return str(exc) or type(exc).__name__
