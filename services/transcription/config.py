"""The transcription area's settings, read once and checked once (issue 13; ``rerank_config()``'s pattern).

``transcription_config()`` is cached; one ``setting_changed`` receiver (mlservice/core/resets.py)
rebuilds it when a setting it holds changes (``TRANSCRIPTION_SETTINGS``), so ``override_settings``
and pytest-django's ``settings`` fixture reach the next call. Building it is the only check of the
choices the settings cannot check alone (the engine and job-runner names, the chunk overlap): the
transcription app calls it at start-up (a bad value stops the process), the service and the jobs
on use. Code reads ``config.field``, never ``django.conf.settings``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mlservice.core.resets import register_reset

BACKENDS = ("auto", "local", "openai")
JOB_RUNNERS = ("auto", "celery", "thread", "eager")


@dataclass(frozen=True)
class TranscriptionConfig:
    """Settings of the transcription area (``transcription_config()``; rebuilt when a setting changes)."""

    backend: str  # TRANSCRIPTION_BACKEND: auto, local or openai
    openai_model: str
    openai_max_file_bytes: int
    openai_api_key: str
    openai_base_url: str
    provider_timeout: float  # PROVIDER_TIMEOUT_SECONDS
    provider_max_retries: int  # PROVIDER_MAX_RETRIES
    local_model: str  # a packaged model: base or tiny.en
    local_model_path: str  # a user's own CTranslate2 folder ("" for the packaged model)
    local_model_name: str  # "" for the model's own name
    local_models_dir: Path
    local_compute_type: str
    local_threads: int
    vad: bool
    beam_size: int
    max_upload_bytes: int
    max_duration_seconds: float
    convert_max_output_bytes: int
    upload_dir: Path
    temp_dir: Path
    job_dir: Path
    async_threshold_seconds: float
    sync_max_seconds: float
    chunk_seconds: float
    chunk_overlap_seconds: float
    job_runner: str  # TRANSCRIPTION_JOB_RUNNER as configured (may be "auto")
    cost_per_minute: float
    celery_always_eager: bool  # CELERY_TASK_ALWAYS_EAGER
    celery_broker_url: str  # CELERY_BROKER_URL

    def __post_init__(self) -> None:
        """Like the env helpers: a bad value is refused with a message naming the variable."""
        if self.backend not in BACKENDS:
            raise ImproperlyConfigured(f"TRANSCRIPTION_BACKEND must be one of {', '.join(BACKENDS)}")
        if self.job_runner not in JOB_RUNNERS:
            raise ImproperlyConfigured(f"TRANSCRIPTION_JOB_RUNNER must be one of {', '.join(JOB_RUNNERS)}")
        if self.chunk_overlap_seconds >= self.chunk_seconds:
            raise ImproperlyConfigured(
                "TRANSCRIPTION_CHUNK_OVERLAP_SECONDS must be less than TRANSCRIPTION_CHUNK_SECONDS"
            )


@functools.cache
def transcription_config() -> TranscriptionConfig:
    return TranscriptionConfig(
        backend=settings.TRANSCRIPTION_BACKEND,
        openai_model=settings.TRANSCRIPTION_OPENAI_MODEL,
        openai_max_file_bytes=settings.TRANSCRIPTION_OPENAI_MAX_FILE_BYTES,
        openai_api_key=settings.OPENAI_API_KEY,
        openai_base_url=settings.OPENAI_BASE_URL,
        provider_timeout=settings.PROVIDER_TIMEOUT_SECONDS,
        provider_max_retries=settings.PROVIDER_MAX_RETRIES,
        local_model=settings.TRANSCRIPTION_LOCAL_MODEL,
        local_model_path=settings.TRANSCRIPTION_LOCAL_MODEL_PATH,
        local_model_name=settings.TRANSCRIPTION_LOCAL_MODEL_NAME,
        local_models_dir=Path(settings.TRANSCRIPTION_LOCAL_MODELS_DIR),
        local_compute_type=settings.TRANSCRIPTION_LOCAL_COMPUTE_TYPE,
        local_threads=settings.TRANSCRIPTION_LOCAL_THREADS,
        vad=settings.TRANSCRIPTION_VAD,
        beam_size=settings.TRANSCRIPTION_BEAM_SIZE,
        max_upload_bytes=settings.TRANSCRIPTION_MAX_UPLOAD_BYTES,
        max_duration_seconds=settings.TRANSCRIPTION_MAX_DURATION_SECONDS,
        convert_max_output_bytes=settings.TRANSCRIPTION_CONVERT_MAX_OUTPUT_BYTES,
        upload_dir=Path(settings.TRANSCRIPTION_UPLOAD_DIR),
        temp_dir=Path(settings.TRANSCRIPTION_TEMP_DIR),
        job_dir=Path(settings.TRANSCRIPTION_JOB_DIR),
        async_threshold_seconds=settings.TRANSCRIPTION_ASYNC_THRESHOLD_SECONDS,
        sync_max_seconds=settings.TRANSCRIPTION_SYNC_MAX_SECONDS,
        chunk_seconds=settings.TRANSCRIPTION_CHUNK_SECONDS,
        chunk_overlap_seconds=settings.TRANSCRIPTION_CHUNK_OVERLAP_SECONDS,
        job_runner=settings.TRANSCRIPTION_JOB_RUNNER,
        cost_per_minute=settings.TRANSCRIPTION_COST_PER_MINUTE,
        celery_always_eager=settings.CELERY_TASK_ALWAYS_EAGER,
        celery_broker_url=settings.CELERY_BROKER_URL,
    )


# Every setting transcription_config() reads: names, or prefixes ending in "_".
TRANSCRIPTION_SETTINGS = (
    "TRANSCRIPTION_",
    "OPENAI_",
    "PROVIDER_TIMEOUT_SECONDS",
    "PROVIDER_MAX_RETRIES",
    "CELERY_TASK_ALWAYS_EAGER",
    "CELERY_BROKER_URL",
)
register_reset(transcription_config.cache_clear, settings=TRANSCRIPTION_SETTINGS)
