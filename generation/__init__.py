"""The generation app (HTTP layer): ``/generation/*`` and ``/chat/completions`` in the reference
service's shapes, and the OpenAI-compatible ``/v1/chat/completions`` and ``/v1/models`` (with
its chunk builder for streams and the RAG chat over a named collection). Views call the LLM
service (``services.llm_service``); providers live in ``services/llm/``.
"""
