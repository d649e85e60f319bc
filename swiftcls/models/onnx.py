"""ONNX export and the onnxruntime model: fast CPU inference for text classifiers.

``swiftcls export --to onnx`` traces the classifier swiftcls runs (for decoders the pooled forward of
:mod:`swiftcls.models.pooling`, which pools by the attention mask before the head) into ``model.onnx`` with dynamic
batch and sequence axes. Families whose template names an ``onnx_fusion`` (BERT) are traced with eager attention and
fused by onnxruntime's transformer optimizer (Attention, SkipLayerNormalization, ...). ``--onnx_quantize int8`` then
rewrites the graph with onnxruntime's dynamic int8 quantization (int8 weights with per-channel scales, activations
quantized per batch). :class:`OnnxModel` runs such a file behind the same call as a
transformers model (``model(input_ids=..., attention_mask=...).logits``), so swiftcls's batching, metrics, server and
``Classifier`` use it unchanged (padded, length-sorted batches: an ONNX graph has no packed path).

``onnx`` and ``onnxruntime`` are optional (``pip install 'swiftcls[onnx]'``) and imported only here, on use.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers.modeling_outputs import SequenceClassifierOutput

from ..core.compat import attn_implementation
from ..core.errors import ConfigError
from .onnx_per_token import per_token_int8

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
OPSET = 17
INSTALL = "pip install 'swiftcls[onnx]' (onnx and onnxruntime)"
INT8_OPS = {"MatMulInteger", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "QAttention", "QGemm"}


def _import(name: str):
    try:
        return __import__(name)  # optional: only for --to onnx / --infer_backend onnxruntime
    except ImportError as err:
        raise ConfigError(f"the ONNX path needs the {name} package, which is not importable here ({err}). "
                          f"Install it: {INSTALL}.") from err


class _Traced(torch.nn.Module):
    """Positional inputs -> logits: the function the ONNX graph records."""

    def __init__(self, model, names: list[str]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *inputs):
        return self.model(**dict(zip(self.names, inputs))).logits


def export_onnx(model, tokenizer, folder: Path, quantize: str | None = None, fusion: str | None = None,
                int8_exclude: Sequence[str] = (), int8_per_token: Sequence[str] = ()) -> Path:
    """Write ``folder/model.onnx`` for ``model`` (a loaded text classifier, merged, in eval mode).

    Args:
        model: The classifier, as swiftcls runs it (float32 weights are exported as float32).
        tokenizer: Its tokenizer: one padded sample batch decides the graph's inputs (``token_type_ids`` for BERT).
        folder: Existing folder to write into.
        quantize: ``int8`` for dynamic int8 quantization; None keeps float32.
        fusion: The family spec's ``onnx_fusion`` (onnxruntime's transformer-optimizer model type, e.g. ``bert``):
            the graph is traced with eager attention and fused (Attention, SkipLayerNormalization, ...), so int8
            quantizes whole attention blocks (QAttention). None keeps the traced graph.
        int8_exclude: The family spec's ``onnx_int8_exclude``: linear modules int8 keeps in float32.
        int8_per_token: The family spec's ``onnx_int8_per_token``: linear modules whose int8 products scale their
            input per token (:mod:`swiftcls.models.onnx_per_token`).

    Returns:
        The path of the written file.
    """
    _import("onnx")
    sample = tokenizer(["a short text", "a slightly longer text to pad the first"], padding=True,
                       return_tensors="pt")
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]
    path = folder / ONNX_FILE
    traced = folder / "model.traced.onnx" if (fusion or quantize) else path
    impl = attn_implementation(model.config)
    if fusion:
        # sdpa traces into a graph the optimizer's attention patterns do not match (only LayerNorm/GELU would fuse).
        model.set_attn_implementation("eager")
    try:
        # The TorchScript exporter: the dynamo one needs onnxscript and does not yet trace transformers' masks. Its
        # tracer warnings are about branches on shapes that hold for every input here (an attention mask is fed).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_Traced(model.float().eval(), names), tuple(sample[k] for k in names), str(traced),
                              dynamo=False, input_names=names, output_names=["logits"], opset_version=OPSET,
                              dynamic_axes={**{k: {0: "batch", 1: "sequence"} for k in names},
                                            "logits": {0: "batch"}})
    except torch.onnx.errors.UnsupportedOperatorError as err:  # e.g. Mixture-of-Experts routing (aten::histc)
        first_line = str(err).splitlines()[0]  # the rest is the whole traced graph
        raise ConfigError(f"--to onnx: {type(model).__name__} runs an operator torch's ONNX exporter cannot express "
                          f"({first_line}). Serve this model with --to hf (vLLM, transformers) or swiftcls "
                          "infer/deploy's PyTorch backend.") from err
    finally:
        if fusion and impl:
            model.set_attn_implementation(impl)
    stages = [traced]
    if fusion:
        stages.append(folder / "model.fused.onnx" if quantize else path)
        _fuse(traced, stages[-1], fusion, model.config)
    if quantize == "int8":
        stages.append(path)
        _quantize_int8(stages[-2], path, int8_exclude, int8_per_token)
    for stage in stages[:-1]:
        stage.unlink()
    return path


def _fuse(source: Path, target: Path, model_type: str, config) -> None:
    """onnxruntime's transformer optimizer on ``source`` (offline, so the file holds only standard + com.microsoft
    ops any onnxruntime CPU build runs); logs which fused kernels it made."""
    from onnxruntime.transformers.optimizer import optimize_model  # optional, see the module docstring

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimized = optimize_model(str(source), model_type=model_type, num_heads=config.num_attention_heads,
                                   hidden_size=config.hidden_size, opt_level=0)
    fused = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
    logger.info("onnxruntime %s fusion: %s", model_type, ", ".join(f"{v} {k}" for k, v in fused.items()) or "none")
    optimized.save_model_to_file(str(target))


def _quantize_int8(source: Path, target: Path, exclude: Sequence[str] = (), per_token: Sequence[str] = ()) -> None:
    """Dynamic int8: int8 weights with one scale per output channel (per-tensor scales lost more accuracy on real
    data, docs/benchmarks.md), activations quantized per batch, except the matrix products of the ``exclude``
    modules (traced as ``.../<module>/MatMul``), which stay float32, and those of the ``per_token`` modules, whose
    activations get one scale per token (:func:`~swiftcls.models.onnx_per_token.per_token_int8`). Fused
    com.microsoft ops have no ONNX type inference, hence the float default type."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic  # optional, see the module docstring

    def products(modules):
        return [n.name for n in nodes if n.op_type in ("MatMul", "Gemm") and any(f"/{m}/" in n.name for m in modules)]

    kept = rewritten = []
    if exclude or per_token:  # a graph under 2 GB holds its weights: read it only when names are to be matched
        nodes = onnx.load(str(source), load_external_data=False).graph.node
        kept, rewritten = products(exclude), products(per_token)
        if kept:
            logger.info("int8: %d matrix products of %s kept in float32", len(kept), ", ".join(exclude))
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     nodes_to_exclude=kept + rewritten, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    # Read once: with its weights when the per-token rewrite needs them, else only its nodes for the check below.
    graph = onnx.load(str(target), load_external_data=bool(rewritten))
    if rewritten:
        done = per_token_int8(graph, rewritten)
        onnx.save(graph, str(target), save_as_external_data=graph.ByteSize() > 2**31 - 2**24)
        logger.info("int8: %d matrix products of %s scale their inputs per token", done, ", ".join(per_token))
    ops = {n.op_type for n in graph.graph.node}
    if not ops & INT8_OPS:  # e.g. weights traced as Constant nodes: the quantizer sees no weight to quantize
        raise ConfigError(f"--onnx_quantize int8 quantized no matrix product of {source.name} (the graph holds "
                          "no int8 kernel): the export would be float32 under an int8 name. Report this with the "
                          "model type; export without --onnx_quantize meanwhile.")


class OnnxModel:
    """A ``model.onnx`` classifier behind transformers' call signature, run by onnxruntime on the CPU.

    Attributes:
        config: The checkpoint's transformers config (labels, problem type, pad token).
        input_names: The graph's inputs (``input_ids``, ``attention_mask``, maybe ``token_type_ids``).
    """

    supports_packing = False  # one graph with padded [batch, sequence] inputs; see models/packing.use_padding_free

    def __init__(self, path: Path, config, threads: int | None = None):
        ort = _import("onnxruntime")
        options = ort.SessionOptions()
        # Same thread budget as torch (OMP_NUM_THREADS / torch.set_num_threads), not onnxruntime's all-cores default.
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.config = config

    def __call__(self, input_ids=None, attention_mask=None, token_type_ids=None, **_) -> SequenceClassifierOutput:
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        if given["attention_mask"] is None:
            given["attention_mask"] = torch.ones_like(input_ids)
        if given["token_type_ids"] is None:
            given["token_type_ids"] = torch.zeros_like(input_ids)
        feeds = {name: given[name].cpu().numpy().astype(np.int64) for name in self.input_names}
        return SequenceClassifierOutput(logits=torch.from_numpy(self.session.run(["logits"], feeds)[0]))

    def to(self, *_, **__) -> OnnxModel:
        return self  # onnxruntime's CPU session: nothing to move

    def eval(self) -> OnnxModel:
        return self


def load_onnx(model_dir: str, config) -> OnnxModel:
    """The ``model.onnx`` of a ``swiftcls export --to onnx`` folder, or a ConfigError saying how to make one."""
    path = Path(model_dir) / ONNX_FILE
    if not path.is_file():
        raise ConfigError(f"--infer_backend onnxruntime: {model_dir} has no {ONNX_FILE}. Export the checkpoint "
                          f"first: swiftcls export --model|--adapters CHECKPOINT --to onnx --output_dir DIR, then "
                          "pass --model DIR.")
    logger.info("onnxruntime: %s (%d threads)", path, torch.get_num_threads())
    return OnnxModel(path, config)
