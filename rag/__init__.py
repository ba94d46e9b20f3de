"""The retrieval-augmented generation app (HTTP layer and data): ``/rag/*`` routes (index, batch
index, documents upload, search, query with optional streaming, collections, stats), the
``index_documents`` command and the PostgreSQL models of collections and chunks. Views call
``services.rag_service``; vector stores live in ``services/vectorstores/``.
"""
