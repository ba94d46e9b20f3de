from django.urls import path

from . import openai_audio, views

urlpatterns = [
    # Docs family (served under /api/v1/ as well as here).
    path("transcription/transcribe", views.TranscribeView.as_view(), name="transcription-transcribe"),
    path("transcription/convert", views.ConvertView.as_view(), name="transcription-convert"),
    path("transcription/estimate-cost", views.EstimateCostView.as_view(), name="transcription-estimate-cost"),
    # TS family.
    path("transcription/audio", views.AudioPathTranscribeView.as_view(), name="transcription-audio"),
    path("transcription/audio/base64", views.Base64TranscribeView.as_view(), name="transcription-audio-base64"),
    path("transcription/formats", views.FormatsView.as_view(), name="transcription-formats"),
    path("transcription/languages", views.LanguagesView.as_view(), name="transcription-languages"),
    path("transcription/health", views.TranscriptionHealthView.as_view(), name="transcription-health"),
    # Background jobs for long audio.
    path("transcription/jobs/<uuid:job_id>", views.JobView.as_view(), name="transcription-job"),
    # OpenAI wire format for OpenAI SDKs (base_url=http://host/v1), served once at the root.
    path("v1/audio/transcriptions", openai_audio.OpenAITranscriptionsView.as_view(), name="openai-transcriptions"),
    path("v1/audio/translations", openai_audio.OpenAITranslationsView.as_view(), name="openai-translations"),
]
