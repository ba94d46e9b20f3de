"""The rerank app (HTTP layer): ``/rerank`` and ``/v1/rerank`` in the Cohere/Jina and TEI request
formats. Views call ``services.rerank_service``; providers live in ``services/rerank/``.
"""
