"""Rerank providers behind one small interface (``base.Reranker``): the HTTP ones (TEI, Infinity, Cohere,
Jina, Voyage) and the local method (z-scored cosine of the local embeddings plus BM25 over the
request's documents). ``services.rerank_service`` chooses among them.
"""
