"""Embedding providers (local MiniLM on ONNX Runtime or torch, OpenAI and OpenAI-compatible servers).

``services.embedding_service`` is the public entry point; this package holds its parts.
"""
