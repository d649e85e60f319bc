"""ONNX export and the onnxruntime model: fast CPU inference for text classifiers.

``swiftcls export --to onnx`` traces the classifier swiftcls runs (for decoders the pooled forward of
:mod:`swiftcls.models.pooling`, which pools by the attention mask before the head) into ``model.onnx`` with dynamic
batch and sequence axes; ``--onnx_quantize int8`` then rewrites it with onnxruntime's dynamic int8 quantization
(weights int8, activations quantized per batch). :class:`OnnxModel` runs such a file behind the same call as a
transformers model (``model(input_ids=..., attention_mask=...).logits``), so swiftcls's batching, metrics, server and
``Classifier`` use it unchanged (padded, length-sorted batches: an ONNX graph has no packed path).

``onnx`` and ``onnxruntime`` are optional (``pip install 'swiftcls[onnx]'``) and imported only here, on use.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from transformers.modeling_outputs import SequenceClassifierOutput

from ..core.errors import ConfigError

logger = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
OPSET = 17
INSTALL = "pip install 'swiftcls[onnx]' (onnx and onnxruntime)"


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


def export_onnx(model, tokenizer, folder: Path, quantize: str | None = None) -> Path:
    """Write ``folder/model.onnx`` for ``model`` (a loaded text classifier, merged, in eval mode).

    Args:
        model: The classifier, as swiftcls runs it (float32 weights are exported as float32).
        tokenizer: Its tokenizer: one padded sample batch decides the graph's inputs (``token_type_ids`` for BERT).
        folder: Existing folder to write into.
        quantize: ``int8`` for dynamic int8 quantization; None keeps float32.

    Returns:
        The path of the written file.
    """
    _import("onnx")
    sample = tokenizer(["a short text", "a slightly longer text to pad the first"], padding=True,
                       return_tensors="pt")
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in sample]
    path = folder / ONNX_FILE
    # The TorchScript exporter: the dynamo one needs onnxscript and does not yet trace transformers' masks. Its
    # tracer warnings are about branches on shapes that hold for every input here (an attention mask is always fed).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Traced(model.float().eval(), names), tuple(sample[k] for k in names), str(path),
                          dynamo=False, input_names=names, output_names=["logits"], opset_version=OPSET,
                          dynamic_axes={**{k: {0: "batch", 1: "sequence"} for k in names}, "logits": {0: "batch"}})
    if quantize == "int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic  # optional, see the module docstring

        fp32 = folder / "model.fp32.onnx"
        os.replace(path, fp32)
        quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8)
        fp32.unlink()
    return path


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
