"""``SeqClsTrainer``: transformers.Trainer with swiftcls's pooled forward, losses, a separate head LR and atomic saves.

It derives from :class:`~swiftcls.core.compat.HookedTrainer`, which gives Trainer's private hooks public names.
"""

from __future__ import annotations

import json
import os

import torch
from torch.utils.data import SequentialSampler
from transformers import TrainerCallback

from ..core.compat import HookedTrainer
from ..core.spec import ModelSpec
from ..data.chunking import row_tokens
from ..models.pooling import classifier_logits
from .checkpoints import save_atomically
from .losses import LossConfig, classification_loss
from .sampler import EpochSeededSampler


class SeqClsTrainer(HookedTrainer):
    """A Trainer whose loss is computed by swiftcls from pooled logits.

    Args:
        spec: The model family spec (pooling, head names).
        loss_config: Which loss to use.
        head_lr: Learning rate of the head parameters; None uses ``args.learning_rate``.
        vit_lr: Learning rate of the vision tower (multimodal specs); None uses ``args.learning_rate``.
        *args, **kwargs: Passed to ``transformers.Trainer``.
    """

    def __init__(self, *args, spec: ModelSpec, loss_config: LossConfig, head_lr: float | None = None,
                 vit_lr: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec, self.loss_config, self.head_lr = spec, loss_config, head_lr
        self.vit_lr = vit_lr if spec.vision_tower else None
        # The loss is a per-batch mean computed here; Trainer must not rescale it by item counts or world size.
        self.model_accepts_loss_kwargs = False

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        logits = classifier_logits(model, inputs)
        loss = classification_loss(logits, labels, self.loss_config)
        return (loss, {"logits": logits}) if return_outputs else loss

    def write_checkpoint(self, model, trial):
        # Never leave a half-written checkpoint-N behind (see swiftcls/training/checkpoints.py).
        save_atomically(self, model, trial)

    def train_sampler(self, train_dataset):
        # Shuffled orders come from data_seed + epoch, not from the global RNG when an epoch starts: a run resumed
        # mid-epoch then trains that epoch in the original order (see swiftcls/training/sampler.py).
        strategy = self.args.train_sampling_strategy
        if strategy not in ("group_by_length", "random") or not hasattr(train_dataset, "__len__"):
            return super().train_sampler(train_dataset)
        grouped = strategy == "group_by_length"
        # Only length grouping reads the rows here: a lazily tokenized row is encoded when read.
        lengths = _lengths(train_dataset) if grouped else [0] * len(train_dataset)
        seed = self.args.seed if self.args.data_seed is None else self.args.data_seed
        # As transformers groups: by the rows of one optimizer step (per process).
        group = self.args.train_batch_size * self.args.gradient_accumulation_steps if grouped else None
        # state.epoch is fractional mid-epoch (1.4 when resumed 40% into epoch 1) and whole at each epoch's start.
        return EpochSeededSampler(lengths, seed, lambda: int(self.state.epoch or 0), group)

    def eval_sampler(self, eval_dataset):
        # Whole groups (rm pairs, reranker queries) have no input_ids of their own for transformers' length grouping;
        # they are evaluated in order.
        if eval_dataset is not None and len(eval_dataset) and "rows" in eval_dataset[0]:
            return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None
        # transformers' length-grouped eval sampler reads row["input_ids"], which chunked rows keep per window: group
        # by every row's token count instead, seeded the same way.
        if self.args.train_sampling_strategy != "group_by_length" or not hasattr(eval_dataset, "__len__"):
            return super().eval_sampler(eval_dataset)
        seed = self.args.seed if self.args.data_seed is None else self.args.data_seed
        return EpochSeededSampler(_lengths(eval_dataset), seed, lambda: 0,
                                  self.args.eval_batch_size)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self.prepare_inputs(inputs)
        labels = inputs.get("labels")
        with torch.no_grad():
            if labels is None:
                return None, classifier_logits(model, inputs).float().detach(), None
            loss, out = self.compute_loss(model, dict(inputs), return_outputs=True)
        logits = None if prediction_loss_only else out["logits"].float().detach()
        return loss.detach(), logits, labels

    def _is_head(self, name: str) -> bool:
        parts = name.split(".")
        return any(h in parts for h in self.spec.head)

    def _is_vit(self, name: str) -> bool:
        return f".{self.spec.vision_tower}." in f".{name}"

    def _lr_of(self, name: str) -> float | None:
        if self.head_lr is not None and self._is_head(name):
            return self.head_lr
        return self.vit_lr if self.vit_lr is not None and self._is_vit(name) else None

    def create_optimizer(self, model=None):
        if (self.head_lr is None and self.vit_lr is None) or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        groups: dict[tuple[float | None, bool], list] = {}
        for name, param in opt_model.named_parameters():
            if param.requires_grad:
                groups.setdefault((self._lr_of(name), name in decay), []).append(param)
        param_groups = [{"params": params, "weight_decay": self.args.weight_decay if is_decay else 0.0,
                         **({"lr": lr} if lr is not None else {})}
                        for (lr, is_decay), params in groups.items()]
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer


def _lengths(dataset) -> list[int]:
    """Token counts of a dataset's items: read from the length column of Arrow rows
    (:class:`~swiftcls.data.arrow.ArrowRows`), else counted row by row."""
    if hasattr(dataset, "lengths"):
        return dataset.lengths()
    return [_tokens(row) for row in dataset]


def _tokens(item: dict) -> int:
    """Tokens of a training item: a row, or a whole group of rows (rm pair, reranker query)."""
    return sum(row_tokens(row) for row in item["rows"]) if "rows" in item else row_tokens(item)


class ArgsSaver(TrainerCallback):
    """Writes ``args.json`` (model, labels, prompt settings) into every checkpoint so it is self-describing.

    ``swiftcls infer`` reads it back, so inference formats prompts and decodes labels exactly like training.
    """

    def __init__(self, payload: dict, image_processor=None):
        self.payload, self.image_processor = payload, image_processor

    def write_into(self, folder: str) -> None:
        """Called by ``save_atomically`` on the main process, before the checkpoint gets its final name."""
        write_checkpoint_extras(folder, self.payload, self.image_processor)


def write_checkpoint_extras(folder: str, payload: dict, image_processor=None) -> None:
    """``args.json`` and, for multimodal models, the image processor (its pixel budget) next to the weights."""
    write_args(folder, payload)
    if image_processor is not None:
        image_processor.save_pretrained(folder)


def write_args(folder: str, payload: dict) -> None:
    """Write ``args.json`` atomically (temp file + rename) so a crash never leaves half a file."""
    path = os.path.join(folder, "args.json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, ensure_ascii=False, default=str)
    os.replace(tmp, path)
