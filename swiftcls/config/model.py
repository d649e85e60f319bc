"""Options shared by every command: which model, and which trained checkpoint, and how they are loaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .fields import arg


@dataclass
class ModelArguments:
    """Which model, and how it is loaded."""

    _argument_group_name = "Model"

    model: str | None = arg(None, "Local folder, hub id (org/name), short name such as Qwen2.5-7B-Instruct, or "
                                  "pkg:<python package>[/<folder>] for a checkpoint shipped inside an installed "
                                  "package. For infer/eval/export/deploy: the trained checkpoint or export (or the "
                                  "base model of --adapters).")
    use_hf: bool = arg(True, "Download hub ids from Hugging Face (true) or ModelScope (false).")
    model_revision: str | None = arg(None, "Hub revision (branch, tag or commit).")
    torch_dtype: Literal["auto", "float32", "bfloat16", "float16"] = arg(
        "auto", "Weights dtype: auto is bfloat16 on GPUs that support it, else float32.")
    attn_impl: str | None = arg(None, "Attention implementation (sdpa, eager, flash_attention_2, swiftcls_varlen); "
                                      "default: a varlen kernel for padding-free batches, else transformers' choice.")
    trust_remote_code: bool = arg(False, "Allow custom model code from the checkpoint (off by default: security).")


@dataclass
class CheckpointArguments:
    """Which trained checkpoint to load (infer, eval, export, deploy) and where it runs."""

    _argument_group_name = "Trained checkpoint"

    adapters: str | None = arg(None, "LoRA checkpoint folder written by swiftcls sft; its base model is read from its "
                                     "args.json when --model is omitted. Without it, --model is the trained "
                                     "checkpoint or export.")
    device: str | None = arg(None, "cpu, cuda, cuda:1, ... (default: cuda when available).")


@dataclass
class PredictionArguments:
    """How rows are batched and how scores become predictions (sft's evaluation, infer, eval, deploy)."""

    _argument_group_name = "Batching and decisions"

    padding_free: bool = arg(True, "Pack each batch's rows into one sequence without pad tokens, for families whose "
                                   "template says padding_free (text decoders); other families fall back to padded "
                                   "batches with a log line. See docs/performance.md.")
    threshold: float | None = arg(None, "Multi-label probability threshold (sft: default 0.5, saved with the model; "
                                        "infer/eval/deploy: default the one saved at training).")


@dataclass
class BackendArguments:
    """Which engine computes the logits (infer, eval, deploy, ``Classifier``)."""

    _argument_group_name = "Backend"

    infer_backend: Literal["pt", "vllm", "onnxruntime"] = arg(
        "pt", "pt: PyTorch/transformers (any swiftcls checkpoint); vllm: vLLM's pooling runner (infer/eval; exported "
              "folders only); onnxruntime: a folder written by swiftcls export --to onnx (CPU).")


@dataclass
class ClassifierArguments(ModelArguments, CheckpointArguments, PredictionArguments, BackendArguments):
    """How a trained classifier is loaded and run: shared by infer, eval, deploy and ``Classifier.from_pretrained``."""
