"""``swiftcls export`` options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..core.errors import ConfigError
from .fields import arg
from .model import CheckpointArguments, ModelArguments


@dataclass
class ExportOutputArguments:
    """What to write."""

    _argument_group_name = "Export"

    output_dir: str | None = arg(None, "Folder to write (required); must not exist or be empty. Written atomically.")
    merge_lora: bool = arg(True, "Merge the LoRA weights into the base model (needed for a plain checkpoint).")
    to: Literal["hf", "lmdeploy", "onnx"] = arg(
        "hf", "hf: transformers *ForSequenceClassification (vLLM, TEI, ...); lmdeploy: the reward-model layout "
              "LMDeploy serves (families whose template names one; regression or binary models only); onnx: "
              "model.onnx for onnxruntime (text models; swiftcls infer/deploy --infer_backend onnxruntime).")
    onnx_quantize: Literal["none", "int8"] = arg(
        "none", "--to onnx: int8 = onnxruntime dynamic int8 quantization (smaller, faster on CPUs; check accuracy "
                "with swiftcls eval); none keeps float32.")


@dataclass
class CalibrationArguments:
    """Rows that calibrate ``--onnx_quantize int8`` (SmoothQuant smoothing of the families whose template names it)."""

    _argument_group_name = "Calibration (--onnx_quantize int8)"

    dataset: list[str] = arg([], "--onnx_quantize int8: rows whose activations set the smoothing scales (files or hub "
                                 "names as in sft, read with the columns/CSV options of args.json; labels not needed). "
                                 "Default: the training --dataset of args.json, when it is still readable.")
    quant_n_samples: int = arg(256, "--onnx_quantize int8: how many calibration rows to run (the first N).")


@dataclass
class ExportArguments(ModelArguments, CheckpointArguments, ExportOutputArguments, CalibrationArguments):
    """Every option of ``swiftcls export``: ``export_main(ExportArguments(adapters=..., output_dir=...))``."""

    def __post_init__(self):
        if not self.output_dir:
            raise ConfigError("--output_dir is required: the folder to write the exported checkpoint to.")
        if not (self.model or self.adapters):
            raise ConfigError("pass --adapters (a LoRA checkpoint) or --model (a full checkpoint) to export.")
        if self.onnx_quantize != "none" and self.to != "onnx":
            raise ConfigError(f"--onnx_quantize {self.onnx_quantize} applies to --to onnx only (got --to {self.to}).")
        if self.dataset and self.onnx_quantize != "int8":
            raise ConfigError("--dataset calibrates --onnx_quantize int8; drop it, or add --to onnx --onnx_quantize "
                              "int8.")
        if self.quant_n_samples < 1:
            raise ConfigError(f"--quant_n_samples must be at least 1 (got {self.quant_n_samples}).")
        if self.adapters and not self.merge_lora:
            raise ConfigError("--merge_lora false: the adapter checkpoint already is the unmerged artifact; a plain "
                              "checkpoint that vLLM/LMDeploy/transformers load needs --merge_lora true.")
