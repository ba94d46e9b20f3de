"""The shared service layer: one ``*_service.py`` module per area (the guide's pattern, each with
its service class and ``get_instance()``) and a package per area for its providers and methods
(``embeddings/``, ``llm/``, ``vectorstores/``, ``rerank/``, ``analysis/``, ``transcription/``).
Services raise ``mlservice.core.errors``; they import the core and the apps' models, never views,
serializers, urls or ``mlservice.api`` (``lint-imports``).
"""
