"""``swiftcls infer`` / ``swiftcls eval`` options."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import ConfigError
from .data import DataArguments
from .decisions import TuneArguments
from .fields import arg
from .model import ClassifierArguments
from .zero_shot import PromptArguments, ZeroShotArguments


@dataclass
class InferOutputArguments:
    """Where predictions and metrics go."""

    _argument_group_name = "Prediction output"

    result_path: str | None = arg(None, "JSONL file for predictions (default: <checkpoint>/infer_result.jsonl).")
    metrics_path: str | None = arg(None, "JSON file for metrics (default: next to --result_path).")
    batch_size: int = arg(32, "Rows per forward pass (rows are sorted by length first).")


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
class EvalArguments(InferArguments, TuneArguments):
    """Every option of ``swiftcls eval`` (as infer; every row needs a label and only metrics are written)."""

    def __post_init__(self):
        if self.save_thresholds and not self.tune_thresholds:
            raise ConfigError("--save_thresholds saves what --tune_thresholds tunes: pass both.")
        super().__post_init__()
