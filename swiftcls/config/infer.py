"""``swiftcls infer`` / ``swiftcls eval`` options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..core.errors import ConfigError
from .data import DataArguments
from .fields import arg
from .model import ClassifierArguments
from .zero_shot import PromptArguments, ZeroShotArguments


@dataclass
class InferOutputArguments:
    """Where predictions and metrics go, and which backend computes them."""

    _argument_group_name = "Prediction output"

    result_path: str | None = arg(None, "JSONL file for predictions (default: <checkpoint>/infer_result.jsonl).")
    metrics_path: str | None = arg(None, "JSON file for metrics (default: next to --result_path).")
    batch_size: int = arg(32, "Rows per forward pass (rows are sorted by length first).")
    infer_backend: Literal["pt", "vllm"] = arg(
        "pt", "pt: PyTorch/transformers (any swiftcls checkpoint); vllm: vLLM's pooling runner (exported folders only: "
              "run swiftcls export first for LoRA checkpoints).")


@dataclass
class InferArguments(ClassifierArguments, DataArguments, PromptArguments, ZeroShotArguments, InferOutputArguments):
    """Every option of ``swiftcls infer``: ``infer_main(InferArguments(model=..., dataset=[...]))``."""

    def __post_init__(self):
        if not self.dataset:
            raise ConfigError("--dataset is required.")
        if not (self.model or self.adapters):
            raise ConfigError("pass --model (a trained checkpoint) or --adapters (a LoRA checkpoint).")
        if self.batch_size < 1:
            raise ConfigError(f"--batch_size must be at least 1, got {self.batch_size}.")
        super().__post_init__()


@dataclass
class EvalArguments(InferArguments):
    """Every option of ``swiftcls eval`` (as infer; every row needs a label and only metrics are written)."""
