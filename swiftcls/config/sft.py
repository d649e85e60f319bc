"""``swiftcls sft`` options: a ``transformers.TrainingArguments`` subclass with swiftcls's defaults and the task,
tuner and data options mixed in (as TRL's ``SFTConfig`` and SWIFT's ``SftArguments`` do).

Every ``TrainingArguments`` field is a flag with its real default in ``swiftcls sft --help``; the ones swiftcls
changes are re-declared in :class:`TrainingDefaults` with the swiftcls default. Defaults that depend on other
options (learning rate by tuner, evaluation only with validation data, the DeepSpeed short names) are settled in
:meth:`SftArguments.__post_init__`, before ``TrainingArguments`` validates them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import torch
from transformers import TrainingArguments

from ..core.errors import ConfigError
from ..core.labels import BEST_METRIC, LOWER_IS_BETTER, TASK_BEST_METRIC
from .data import DataArguments, DataPreparationArguments
from .decisions import DecisionArguments
from .deepspeed import prepare_deepspeed, resolve_deepspeed
from .fields import arg
from .model import ModelArguments, PredictionArguments
from .streaming import StreamingArguments
from .zero_shot import HeadInitArguments, PromptArguments


@dataclass
class ValidationDataArguments:
    """Which rows validate the model during and after training."""

    _argument_group_name = "Validation data"

    val_dataset: list[str] = arg([], "Validation files/datasets (same syntax as --dataset; give hub datasets and "
                                     "folders their split, e.g. glue:sst2@validation).")
    split_dataset_ratio: float = arg(0.0, "Hold out this fraction of --dataset for validation (stratified for "
                                          "single-label) when --val_dataset is not given.")
    early_stopping_patience: int | None = arg(None, "Stop training after this many evaluations in a row without "
                                                    "improving --metric_for_best_model (needs validation rows; the "
                                                    "best checkpoint is loaded at the end).")
    early_stopping_threshold: float = arg(0.0, "With --early_stopping_patience: an evaluation counts as an "
                                               "improvement only when the metric improves by more than this.")

    def __post_init__(self):
        if isinstance(self.val_dataset, str):
            self.val_dataset = [self.val_dataset]
        if self.val_dataset and self.split_dataset_ratio:
            raise ConfigError("--val_dataset and --split_dataset_ratio both choose the validation rows; pass one, "
                              "not both.")
        if not 0 <= self.split_dataset_ratio < 1:
            raise ConfigError(f"--split_dataset_ratio must be between 0 and 1, got {self.split_dataset_ratio}.")
        if self.early_stopping_patience is not None and self.early_stopping_patience < 1:
            raise ConfigError(f"--early_stopping_patience must be a number of evaluations >= 1, got "
                              f"{self.early_stopping_patience}.")
        if self.early_stopping_threshold < 0:
            raise ConfigError(f"--early_stopping_threshold must be >= 0, got {self.early_stopping_threshold}.")
        if self.early_stopping_threshold and self.early_stopping_patience is None:
            raise ConfigError("--early_stopping_threshold only applies with --early_stopping_patience N; pass both.")
        parent = getattr(super(), "__post_init__", None)
        if parent:
            parent()

    @property
    def has_validation(self) -> bool:
        """Whether any validation rows were asked for."""
        return bool(self.val_dataset) or self.split_dataset_ratio > 0


@dataclass
class TaskArguments:
    """What the classifier predicts and the loss it learns with."""

    _argument_group_name = "Task and loss"

    task: Literal["seq_cls", "rm", "reranker"] = arg(
        "seq_cls", "seq_cls: sequence classification/regression; rm: a reward model from preference pairs; reranker: "
                   "a cross-encoder from queries and documents (both: a one-output regression head, see "
                   "docs/reward_rerank.md).", aliases=("--task_type",))
    problem_type: Literal["single_label_classification", "multi_label_classification", "regression"] | None = arg(
        None, "Inferred from the labels when omitted.")
    num_labels: int | None = arg(None, "Number of labels; inferred from the data when omitted.")
    labels: list[str] = arg([], "Label names in id order, or one path to a file with one name per line.")
    loss: str | None = arg(None, "Loss function: cross_entropy (single-label), focal (single/multi-label), bce "
                                 "(multi-label), mse (regression), pairwise (--task rm), pointwise or listwise "
                                 "(--task reranker), or a name registered with "
                                 "swiftcls.training.losses.register_loss. Default: by problem type (focal when "
                                 "--focal_gamma > 0); pairwise for rm, pointwise for reranker.")
    class_weights: str | None = arg(None, "'auto' (inverse class frequency / positive weight for multi-label) or "
                                          "comma-separated weights in label-id order.")
    label_smoothing: float = arg(0.0, "Label smoothing for single-label cross-entropy.")
    focal_gamma: float = arg(0.0, "Focal loss gamma; > 0 selects --loss focal by default (0 = plain cross-entropy / "
                                  "BCE; --loss focal without it uses 2.0).")
    center_rewards_coefficient: float = arg(0.0, "--task rm: adds this times the mean squared (chosen + rejected) "
                                                 "reward to the loss, centring rewards on 0 (as TRL).")
    max_negative_samples: int | None = arg(
        None, "--task reranker: negatives per training group (sampled when a query has more, all of them when it "
              "has fewer). Default: $MAX_NEGATIVE_SAMPLES (ms-swift's setting), else 7.")

    def __post_init__(self):
        if self.max_negative_samples is None:
            value = os.environ.get("MAX_NEGATIVE_SAMPLES", "7")
            if not value.isdigit():
                raise ConfigError(f"$MAX_NEGATIVE_SAMPLES={value!r}: expected a whole number, e.g. 7.")
            self.max_negative_samples = int(value)
        if self.max_negative_samples < 1:
            raise ConfigError(f"--max_negative_samples must be at least 1, got {self.max_negative_samples}.")
        if self.task != "seq_cls" and (self.problem_type not in (None, "regression") or self.num_labels not in (None, 1)
                                       or self.labels):
            raise ConfigError(f"--task {self.task} trains a one-output regression head (num_labels 1); drop "
                              "--problem_type, --num_labels and --labels.")
        unused = [flag for flag, value in (("--class_weights", self.class_weights), ("--label_smoothing",
                  self.label_smoothing), ("--focal_gamma", self.focal_gamma)) if value]
        if self.task != "seq_cls" and unused:
            raise ConfigError(f"{', '.join(unused)}: classification options, with no effect on --task {self.task}; "
                              "drop them.")
        if self.center_rewards_coefficient < 0:
            raise ConfigError(f"--center_rewards_coefficient must be >= 0, got {self.center_rewards_coefficient}.")
        parent = getattr(super(), "__post_init__", None)
        if parent:
            parent()


@dataclass
class TunerArguments:
    """LoRA or full fine-tuning, and what trains at which learning rate."""

    _argument_group_name = "Tuner"

    tuner_type: Literal["lora", "full"] = arg("lora", "lora or full.", aliases=("--train_type",))
    lora_rank: int = arg(8, "LoRA rank r.")
    lora_alpha: int = arg(32, "LoRA alpha.")
    lora_dropout: float = arg(0.05, "LoRA dropout.")
    target_modules: list[str] = arg(["all-linear"], "LoRA targets: all-linear, default (the family template's list), "
                                                    "or module names.")
    modules_to_save: list[str] = arg([], "Extra modules trained fully and saved with the adapter (the "
                                         "classification head always is).")
    freeze_vit: bool = arg(True, "Multimodal models: keep the vision encoder frozen (no LoRA on it, no full "
                                 "fine-tuning of it).")
    freeze_aligner: bool = arg(True, "Multimodal models: keep the vision-to-text projector (merger) frozen.")
    vit_lr: float | None = arg(None, "Learning rate of the vision encoder and projector when they train (default: "
                                     "--learning_rate).")
    head_lr: float | None = arg(None, "Learning rate of the classification head (default: --learning_rate).")


@dataclass
class TrainingDefaults(TrainingArguments):
    """transformers.TrainingArguments, with swiftcls's defaults where they differ."""

    _argument_group_name = "Training (transformers.TrainingArguments)"

    output_dir: str | None = arg("output", "Where checkpoints, args.json, metrics and plots are written.")
    per_device_train_batch_size: int = arg(8, "Training batch size per device.", aliases=("--batch_size",))
    per_device_eval_batch_size: int = arg(16, "Evaluation batch size per device.")
    learning_rate: float | None = arg(None, "Peak learning rate (default 1e-4 for LoRA, 2e-5 for full).")
    lr_scheduler_type: str = arg("linear", "Learning-rate schedule (linear, cosine, constant, ...).")
    warmup_steps: float = arg(0.0, "Warm-up: a fraction of the training steps when < 1, else a number of steps.",
                              aliases=("--warmup_ratio",))
    logging_steps: float = arg(10, "Log every N steps (a fraction of the steps when < 1).")
    logging_first_step: bool = arg(True, "Log the first step too.")
    eval_strategy: Literal["no", "steps", "epoch"] = arg(
        "epoch", "When to evaluate on the validation rows (no validation data: no).")
    save_strategy: Literal["no", "steps", "epoch", "best"] | None = arg(
        None, "When to save checkpoints (default: as --eval_strategy, or epoch without validation data).")
    save_steps: float | None = arg(None, "Save every N steps with --save_strategy steps (default: --eval_steps, "
                                         "else 500).")
    save_total_limit: int | None = arg(2, "Keep at most this many checkpoints (the best one is always kept).")
    load_best_model_at_end: bool | None = arg(
        None, "Load the best checkpoint when training ends (default: true when evaluation and saving share a "
              "schedule, or with --save_strategy best).")
    metric_for_best_model: str | None = arg(
        "auto", "Metric picking the best checkpoint (and judging --early_stopping_patience); auto: f1_macro "
                "(single-label), f1_micro (multi-label), pearson (regression), pairwise_accuracy (--task rm), "
                "mrr@10 (--task reranker).")
    train_sampling_strategy: str = arg("random", "random (the plain Trainer recipe's order), sequential or "
                                                 "group_by_length (batches of rows of similar length: less "
                                                 "padding, so faster with padded batches).")
    disable_tqdm: bool | None = arg(False, "Hide progress bars.")
    remove_unused_columns: bool = arg(False, "Kept false: swiftcls's rows are not a datasets.Dataset.")
    label_names: list[str] | None = arg(["labels"], "The batch key holding the labels.")
    dataloader_pin_memory: bool | None = arg(None, "Pin batches in memory (default: only when training on a GPU).")
    deepspeed: str | None = arg(None, "DeepSpeed ZeRO: zero2, zero3, zero2_offload, zero3_offload (configs shipped "
                                      "with swiftcls) or the path to your own DeepSpeed JSON.")
    resume_from_checkpoint: str | None = arg(None, "Checkpoint folder to resume from ('true' = the newest one in "
                                                   "--output_dir).")


@dataclass
class SftArguments(ModelArguments, DataArguments, DataPreparationArguments, PromptArguments, HeadInitArguments,
                   ValidationDataArguments, TaskArguments, TunerArguments, PredictionArguments, DecisionArguments,
                   StreamingArguments,
                   TrainingDefaults):
    """Every option of ``swiftcls sft``: ``sft_main(SftArguments(model=..., dataset=[...]))``.

    It is a ``transformers.TrainingArguments``, handed to the Trainer as is.
    """

    def __post_init__(self):
        if not self.model:
            raise ConfigError("--model is required.")
        if not self.dataset:
            raise ConfigError("--dataset is required.")
        if self.max_steps == 0 or (self.max_steps < 0 and self.num_train_epochs <= 0):
            flag = "--max_steps 0" if self.max_steps == 0 else f"--num_train_epochs {self.num_train_epochs:g}"
            raise ConfigError(f"{flag} would train nothing and save an untrained model. Pass a positive "
                              "--num_train_epochs, or --max_steps N > 0 (-1, the default, trains for "
                              "--num_train_epochs).")
        self.check_streaming()
        if self.learning_rate is None:
            self.learning_rate = 1e-4 if self.tuner_type == "lora" else 2e-5
        if self.threshold is None:
            self.threshold = 0.5
        if self.gradient_checkpointing is not None and self.activation_checkpointing is None:
            # SWIFT's name; transformers 5 renamed it and warns on the old one.
            self.activation_checkpointing, self.gradient_checkpointing = self.gradient_checkpointing, None
        if not self.has_validation:
            self.eval_strategy = "no"
        if self.save_strategy is None:
            self.save_strategy = self.eval_strategy if self.eval_strategy != "no" else "epoch"
        if self.save_steps is None:
            self.save_steps = self.eval_steps or 500
        self._check_early_stopping()
        if self.load_best_model_at_end is None:
            self.load_best_model_at_end = self.eval_strategy != "no" and self.save_strategy in (self.eval_strategy,
                                                                                                "best")
        if self.metric_for_best_model not in ("auto", None) and self.greater_is_better is None:
            self.greater_is_better = not self.metric_for_best_model.endswith(LOWER_IS_BETTER)
        # DeepSpeed (and its process group) must be set up before TrainingArguments reads the world size; its
        # CPU-or-not decision is also TrainingArguments' use_cpu (no --use_cpu needed on a machine without a GPU).
        self.deepspeed = resolve_deepspeed(self.deepspeed)
        self.use_cpu = prepare_deepspeed(self.deepspeed, self.use_cpu)
        if self.dataloader_pin_memory is None:
            self.dataloader_pin_memory = torch.cuda.is_available() and not self.use_cpu
        try:
            super().__post_init__()
        except ValueError as err:  # transformers' checks of contradicting flags
            raise ConfigError(str(err)) from err

    def _check_early_stopping(self) -> None:
        """Early stopping needs evaluations to judge and the best checkpoint loaded at the end: without it the
        saved model would be the last one, up to ``patience`` evaluations worse than the best."""
        if self.early_stopping_patience is None:
            return
        flag = f"--early_stopping_patience {self.early_stopping_patience}"
        if not self.has_validation:
            raise ConfigError(f"{flag} needs validation rows to judge: pass --val_dataset FILE or "
                              "--split_dataset_ratio 0.1.")
        if self.eval_strategy == "no":
            raise ConfigError(f"{flag} needs evaluations: use --eval_strategy epoch (the default) or steps, not no.")
        if self.metric_for_best_model is None:
            raise ConfigError(f"{flag} needs a --metric_for_best_model (auto picks one by problem type).")
        if self.load_best_model_at_end is False:
            raise ConfigError(f"{flag} with --load_best_model_at_end false would keep the last model, which is "
                              "worse than the best one: drop --load_best_model_at_end false.")
        if self.save_strategy not in (self.eval_strategy, "best"):
            raise ConfigError(f"{flag} loads the best checkpoint at the end, so checkpoints must be saved when the "
                              f"model is evaluated: --save_strategy {self.save_strategy} differs from --eval_strategy "
                              f"{self.eval_strategy}; pass --save_strategy {self.eval_strategy} (or best).")

    def set_problem_type(self, problem_type: str) -> None:
        """Settle what depends on the labels, known once the data is read: the ``auto`` best-checkpoint metric."""
        if self.metric_for_best_model == "auto":
            self.metric_for_best_model, self.greater_is_better = TASK_BEST_METRIC.get(self.task,
                                                                                      BEST_METRIC[problem_type])
