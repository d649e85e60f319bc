"""Losses for the three problem types: CE (+class weights, label smoothing, focal), BCE, MSE."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.errors import ConfigError
from ..core.labels import MULTI, REGRESSION


@dataclass
class LossConfig:
    """What ``classification_loss`` computes.

    Attributes:
        problem_type: single/multi-label classification or regression.
        class_weights: Per-class weights (single-label) or positive weights (multi-label).
        label_smoothing: Single-label label smoothing.
        focal_gamma: Focal loss gamma; 0 disables it.
    """

    problem_type: str
    class_weights: list[float] | None = None
    label_smoothing: float = 0.0
    focal_gamma: float = 0.0


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Mean loss of a batch, computed in float32 whatever the model dtype."""
    logits = logits.float()
    weight = None if cfg.class_weights is None else torch.tensor(cfg.class_weights, device=logits.device)
    if cfg.problem_type == REGRESSION:
        return F.mse_loss(logits.squeeze(-1), labels.float().view(logits.shape[0], -1).squeeze(-1))
    if cfg.problem_type == MULTI:
        labels = labels.float()
        loss = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=weight, reduction="none")
        if cfg.focal_gamma:
            p_true = torch.where(labels > 0.5, torch.sigmoid(logits), 1 - torch.sigmoid(logits))
            loss = loss * (1 - p_true).pow(cfg.focal_gamma)
        return loss.mean()
    labels = labels.long()
    if not cfg.focal_gamma:
        return F.cross_entropy(logits, labels, weight=weight, label_smoothing=cfg.label_smoothing)
    log_p = F.log_softmax(logits, -1)
    p_true = log_p.gather(-1, labels[:, None]).squeeze(-1).exp()
    ce = F.cross_entropy(logits, labels, weight=weight, label_smoothing=cfg.label_smoothing, reduction="none")
    focal = (1 - p_true).pow(cfg.focal_gamma) * ce
    return focal.sum() / (weight[labels].sum() if weight is not None else len(labels))


def resolve_class_weights(spec: str | None, encoded: list, problem_type: str, num_labels: int) -> list[float] | None:
    """``--class_weights``: None, ``auto`` (inverse frequency; neg/pos ratio for multi-label) or a list.

    Args:
        spec: The flag value.
        encoded: Encoded training labels (ids or multi-hot lists).
        problem_type: The problem type.
        num_labels: Number of classes.
    """
    if not spec:
        return None
    if problem_type == REGRESSION:
        raise ConfigError("--class_weights does not apply to regression.")
    if spec != "auto":
        try:
            weights = [float(w) for w in spec.split(",")]
        except ValueError as err:
            raise ConfigError(f"--class_weights must be 'auto' or comma-separated numbers, got {spec!r}.") from err
        if len(weights) != num_labels:
            raise ConfigError(f"--class_weights has {len(weights)} values for {num_labels} labels.")
        return weights
    n = len(encoded)
    if problem_type == MULTI:
        pos = [sum(row[i] for row in encoded) for i in range(num_labels)]
        return [(n - p) / p if p else 1.0 for p in pos]
    counts = [0] * num_labels
    for label in encoded:
        counts[label] += 1
    present = sum(1 for c in counts if c)
    return [n / (present * c) if c else 0.0 for c in counts]
