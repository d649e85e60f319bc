"""Losses: a small name -> function registry (cross-entropy, focal, BCE, MSE; the rm and reranker losses of
swiftcls/training/ranking_losses.py), and class weights.

A loss is a function ``fn(logits, labels, cfg) -> scalar tensor`` (float32 logits ``[batch, num_labels]``, the
batch's labels, the :class:`LossConfig`) plus one entry in :data:`LOSSES` naming the problem types it serves
(or the scoring tasks, ``rm`` and ``reranker``, whose rows carry ``[target, group, margin]`` labels).
``--loss NAME`` picks it; without the flag the problem type's (or task's) default is used (see :func:`default_loss`).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.errors import ConfigError
from ..core.labels import MULTI, PROBLEM_TYPES, REGRESSION, RERANKER, RM, SCORING_TASKS, SINGLE
from .ranking_losses import listwise, pairwise, pointwise

FOCAL_GAMMA = 2.0  # --loss focal without --focal_gamma: the focal-loss paper's choice (Lin et al., 2017)


@dataclass
class LossConfig:
    """What ``classification_loss`` computes.

    Attributes:
        problem_type: single/multi-label classification or regression.
        class_weights: Per-class weights (single-label) or positive weights (multi-label).
        label_smoothing: Single-label label smoothing.
        focal_gamma: Focal loss gamma; > 0 makes ``focal`` the default loss of classification problems.
        loss: A name in :data:`LOSSES`; None picks :func:`default_loss`. Checked against the problem type here,
            so a bad ``--loss`` fails before any model is loaded.
        task: ``seq_cls``, or a scoring task (``rm``, ``reranker``) whose losses are keyed by the task.
        center_rewards_coefficient: rm: weight of the mean squared summed reward of each pair (TRL's
            ``center_rewards_coefficient``), which keeps rewards centred on 0.
    """

    problem_type: str
    class_weights: list[float] | None = None
    label_smoothing: float = 0.0
    focal_gamma: float = 0.0
    loss: str | None = None
    task: str = "seq_cls"
    center_rewards_coefficient: float = 0.0

    @property
    def kind(self) -> str:
        """What the loss must serve: the scoring task, else the problem type."""
        return self.task if self.task in SCORING_TASKS else self.problem_type

    def __post_init__(self):
        self.loss = resolve_loss(self.loss, self.kind, self.focal_gamma)
        if self.center_rewards_coefficient and self.task != RM:
            raise ConfigError(f"--center_rewards_coefficient applies to --task rm, not --task {self.task}; drop it.")
        if self.loss == "focal" and not self.focal_gamma:
            self.focal_gamma = FOCAL_GAMMA


def _weight(cfg: LossConfig, logits: torch.Tensor) -> torch.Tensor | None:
    return None if cfg.class_weights is None else torch.tensor(cfg.class_weights, device=logits.device)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Softmax cross-entropy with optional class weights (weighted mean) and label smoothing."""
    return F.cross_entropy(logits, labels.long(), weight=_weight(cfg, logits), label_smoothing=cfg.label_smoothing)


def bce(logits: torch.Tensor, labels: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Per-label sigmoid cross-entropy, averaged over rows and labels; class weights weigh the positives."""
    return F.binary_cross_entropy_with_logits(logits, labels.float(), pos_weight=_weight(cfg, logits))


def focal(logits: torch.Tensor, labels: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Focal loss: each row's (single-label) or label's (multi-label) cross-entropy times ``(1 - p_true)**gamma``.

    Single-label rows are averaged with the class weights of their labels, like weighted cross-entropy.
    """
    weight, gamma = _weight(cfg, logits), cfg.focal_gamma
    if cfg.problem_type == MULTI:
        labels = labels.float()
        loss = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=weight, reduction="none")
        p_true = torch.where(labels > 0.5, torch.sigmoid(logits), 1 - torch.sigmoid(logits))
        return (loss * (1 - p_true).pow(gamma)).mean()
    labels = labels.long()
    p_true = F.log_softmax(logits, -1).gather(-1, labels[:, None]).squeeze(-1).exp()
    ce = F.cross_entropy(logits, labels, weight=weight, label_smoothing=cfg.label_smoothing, reduction="none")
    return ((1 - p_true).pow(gamma) * ce).sum() / (weight[labels].sum() if weight is not None else len(labels))


def mse(logits: torch.Tensor, labels: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Mean squared error over rows and targets."""
    return F.mse_loss(logits.squeeze(-1), labels.float().view(logits.shape[0], -1).squeeze(-1))


@dataclass(frozen=True)
class Loss:
    """A registered loss: its function and the problem types it serves."""

    fn: Callable[[torch.Tensor, torch.Tensor, LossConfig], torch.Tensor]
    problem_types: tuple[str, ...]


LOSSES: dict[str, Loss] = {
    "cross_entropy": Loss(cross_entropy, (SINGLE,)),
    "focal": Loss(focal, (SINGLE, MULTI)),
    "bce": Loss(bce, (MULTI,)),
    "mse": Loss(mse, (REGRESSION,)),
    "pairwise": Loss(pairwise, (RM,)),
    "pointwise": Loss(pointwise, (RERANKER,)),
    "listwise": Loss(listwise, (RERANKER,)),
}
_DEFAULTS = {SINGLE: "cross_entropy", MULTI: "bce", REGRESSION: "mse", RM: "pairwise", RERANKER: "pointwise"}


def register_loss(name: str, fn: Callable, problem_types: tuple[str, ...] = PROBLEM_TYPES) -> None:
    """Make ``fn`` available as ``--loss name`` (in this process) for the given problem types (or scoring tasks,
    ``rm``/``reranker``, whose labels are ``[target, group, margin]`` rows)."""
    unknown = set(problem_types) - set(PROBLEM_TYPES) - set(SCORING_TASKS)
    if unknown:
        raise ConfigError(f"register_loss({name!r}): unknown problem types {sorted(unknown)}; use "
                          f"{PROBLEM_TYPES + SCORING_TASKS}.")
    LOSSES[name] = Loss(fn, tuple(problem_types))


def default_loss(problem_type: str, focal_gamma: float = 0.0) -> str:
    """The loss used without ``--loss``: cross_entropy, bce or mse by problem type (pairwise for rm, pointwise for
    reranker); focal when gamma > 0."""
    return "focal" if focal_gamma and problem_type in (SINGLE, MULTI) else _DEFAULTS[problem_type]


def resolve_loss(name: str | None, problem_type: str, focal_gamma: float = 0.0) -> str:
    """``--loss`` checked against the registry and the problem type (None: :func:`default_loss`).

    Raises:
        ConfigError: An unregistered name (the registered ones are listed), a loss that does not serve this problem
            type, or ``--focal_gamma`` with a loss that has no focusing term.
    """
    if name is None:
        return default_loss(problem_type, focal_gamma)
    if name not in LOSSES:
        close = difflib.get_close_matches(name, list(LOSSES), n=1)
        hint = f" Did you mean --loss {close[0]}?" if close else ""
        raise ConfigError(f"--loss {name!r} is not a registered loss; registered: {sorted(LOSSES)}.{hint} Custom "
                          "losses are added with swiftcls.training.losses.register_loss.")
    if problem_type not in LOSSES[name].problem_types:
        raise ConfigError(f"--loss {name} serves {list(LOSSES[name].problem_types)}, not this "
                          f"{problem_type} task; use --loss {_DEFAULTS[problem_type]} (the default) or drop --loss.")
    if focal_gamma and name in ("cross_entropy", "bce"):
        raise ConfigError(f"--focal_gamma {focal_gamma} has no effect with --loss {name}; use --loss focal or drop "
                          "--focal_gamma.")
    return name


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Mean loss of a batch with the configured loss, computed in float32 whatever the model dtype."""
    return LOSSES[cfg.loss].fn(logits.float(), labels, cfg)


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
