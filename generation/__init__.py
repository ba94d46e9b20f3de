"""The generation app (HTTP layer): ``/generation/*`` and ``/chat/completions`` in the reference
service's shapes, and the OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models`` (with
its chunk builder for streams and the RAG chat over a named collection). Views call
``services.generation_service.GenerationService``, which calls the LLM service and builds the
bodies; providers live in ``services/llm/``.
"""
