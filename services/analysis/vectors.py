"""Sentence vectors for the local methods: always the local MiniLM, whatever the default is.

The methods' constants and benchmark figures are for this model, it costs nothing per call and it
needs no network; a configured OpenAI key must not silently turn keyword extraction into paid
embedding calls.
"""

from __future__ import annotations

import numpy as np

from services import embedding_service


def embed(texts: list[str]) -> np.ndarray:
    """L2-normalised float32 vectors, one row per text (texts must not be blank)."""
    service = embedding_service.get_instance()
    return service.embed(list(texts), model=embedding_service.LOCAL_MODEL_NAME).vectors
