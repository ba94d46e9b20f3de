"""Local Whisper models (issue 15): the task keyword, VAD, Whisper base, model selection."""

from __future__ import annotations

import pytest

from mlservice.core.errors import BadRequest
from services import transcription_service
from services.transcription import audio
from services.transcription.types import TaskUnsupported, TranscriptionOptions


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
