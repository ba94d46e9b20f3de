"""The embeddings app (HTTP layer): ``/embeddings/*`` routes (one text, batches, similarity, model
list) and the ``prepare_embedding_model`` command. Views call
``services.embedding_service.EmbeddingService``; providers live in ``services/embeddings/``.
"""
