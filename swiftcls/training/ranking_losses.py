"""Losses of the scoring tasks: logits ``[rows, 1]`` (one score per row) and ``[target, group, margin]`` labels
(swiftcls/data/groups.py); rows of a group are always in the same batch.

* ``pairwise`` (rm): Bradley-Terry, ``-log sigmoid(r_chosen - r_rejected - margin)`` averaged over pairs, plus
  ``center_rewards_coefficient * mean((r_chosen + r_rejected)**2)`` (as TRL's RewardTrainer).
* ``pointwise`` (reranker): binary cross-entropy of each (query, document) score against relevance 1/0.
* ``listwise`` (reranker): softmax cross-entropy over each group (one positive and its negatives),
  ``-log(exp(s_pos) / sum_group exp(s))``, averaged over groups.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TARGET, GROUP, MARGIN = 0, 1, 2  # as swiftcls.data.groups (training may not import data)


def _scores_and_groups(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Each row's score, its group's index in ``0..n-1`` and the number of groups ``n``."""
    if logits.shape[-1] != 1 or labels.ndim != 2 or labels.shape[1] != 3:
        raise ValueError(f"scoring losses need one score per row and [target, group, margin] labels, got logits "
                         f"{tuple(logits.shape)} and labels {tuple(labels.shape)}.")
    _, index = torch.unique(labels[:, GROUP], return_inverse=True)
    return logits[:, 0], index.to(logits.device), int(index.max()) + 1


def _per_group(values: torch.Tensor, index: torch.Tensor, n: int, rows: torch.Tensor) -> torch.Tensor:
    """Sum of ``values[rows]`` in each group."""
    return values.new_zeros(n).index_add(0, index[rows], values[rows])


def pairwise(logits: torch.Tensor, labels: torch.Tensor, cfg) -> torch.Tensor:
    """Bradley-Terry loss of the batch's chosen/rejected pairs, with per-pair margins and reward centring."""
    reward, index, n = _scores_and_groups(logits, labels)
    labels = labels.to(reward.device)
    chosen = labels[:, TARGET] > 0.5
    counts = torch.stack([torch.bincount(index[chosen], minlength=n), torch.bincount(index[~chosen], minlength=n)])
    if not bool((counts == 1).all()):
        raise ValueError("--task rm: every pair must have exactly one chosen and one rejected row in the batch.")
    r_chosen = _per_group(reward, index, n, chosen)
    r_rejected = _per_group(reward, index, n, ~chosen)
    margin = _per_group(labels[:, MARGIN].to(reward.dtype), index, n, chosen)
    loss = -F.logsigmoid(r_chosen - r_rejected - margin).mean()
    if cfg.center_rewards_coefficient:
        loss = loss + cfg.center_rewards_coefficient * torch.mean((r_chosen + r_rejected) ** 2)
    return loss


def pointwise(logits: torch.Tensor, labels: torch.Tensor, cfg) -> torch.Tensor:
    """Binary cross-entropy of every (query, document) score against its relevance."""
    score, _, _ = _scores_and_groups(logits, labels)
    return F.binary_cross_entropy_with_logits(score, labels[:, TARGET].to(score))


def listwise(logits: torch.Tensor, labels: torch.Tensor, cfg) -> torch.Tensor:
    """Softmax cross-entropy over each group: minus the log of the positives' share of the group's softmax."""
    score, index, n = _scores_and_groups(logits, labels)
    positive = labels[:, TARGET].to(score.device) > 0.5
    if not bool((torch.bincount(index[positive], minlength=n) > 0).all()):
        raise ValueError("--loss listwise: every group needs a positive document.")
    # Subtracting each group's max keeps exp() finite; it cancels in the ratio.
    top = torch.full((n,), -torch.inf, dtype=score.dtype, device=score.device).scatter_reduce(
        0, index, score.detach(), "amax")
    weight = torch.exp(score - top[index])
    everything = _per_group(weight, index, n, torch.ones_like(positive))
    return -(torch.log(_per_group(weight, index, n, positive)) - torch.log(everything)).mean()
