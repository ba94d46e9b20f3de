"""Transcription engines and audio handling behind ``TranscriptionService``: decoding and duration
limits (PyAV), local Whisper (faster-whisper, VAD, packaged models), the OpenAI engine,
chunking of long audio and the json/text/srt/vtt/verbose_json renderers.
"""
