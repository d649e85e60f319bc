"""Metrics of the scoring tasks from one score per row and ``[target, group, margin]`` labels.

* rm: ``pairwise_accuracy`` (share of pairs whose chosen reward is higher), ``mean_margin`` (mean chosen minus
  rejected reward), ``reward_mean`` / ``reward_std`` (over every conversation), ``pairs``.
* reranker: ``mrr@10`` (mean over queries of 1 / rank of the first relevant document, 0 beyond rank 10),
  ``ndcg@10`` (binary relevance, log2 discount), ``queries``. Ties are broken against the relevant documents, so a
  model that scores everything alike earns no credit for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.labels import RM

TARGET, GROUP = 0, 1  # columns of the label vector (swiftcls/data/groups.py)
TOP_K = 10


def _groups(logits, labels) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(scores, targets)`` of each group, in order of first appearance."""
    scores = np.asarray(logits, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=np.float64).reshape(len(scores), -1)
    ids, first, index = np.unique(labels[:, GROUP], return_index=True, return_inverse=True)
    order = np.argsort(first)
    return [(scores[index == g], labels[index == g, TARGET] > 0.5) for g in order]


def pair_metrics(logits, labels) -> dict:
    """rm metrics; each group must be one chosen and one rejected row."""
    groups = _groups(logits, labels)
    if not groups or any(len(s) != 2 or t.sum() != 1 for s, t in groups):
        raise ValueError("rm metrics need groups of one chosen and one rejected row.")
    diff = np.array([s[t][0] - s[~t][0] for s, t in groups])
    rewards = np.asarray(logits, dtype=np.float64).reshape(-1)
    return {"pairwise_accuracy": float(np.mean(diff > 0)), "mean_margin": float(np.mean(diff)),
            "reward_mean": float(np.mean(rewards)), "reward_std": float(np.std(rewards)), "pairs": len(groups)}


def rank_metrics(logits, labels, k: int = TOP_K) -> dict:
    """Reranker metrics over the groups (queries) that have a relevant document."""
    mrr, ndcg = [], []
    for scores, relevant in _groups(logits, labels):
        if not relevant.any():
            continue
        ranked = relevant[np.lexsort((relevant, -scores))][:k]  # by score, ties: irrelevant first
        hits = np.flatnonzero(ranked)
        mrr.append(1.0 / (hits[0] + 1) if len(hits) else 0.0)
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        ideal = discount[:min(int(relevant.sum()), k)].sum()
        ndcg.append(float((ranked * discount[:len(ranked)]).sum() / ideal))
    if not mrr:
        raise ValueError("reranker metrics need at least one query with a relevant document.")
    return {f"mrr@{k}": float(np.mean(mrr)), f"ndcg@{k}": float(np.mean(ndcg)), "queries": len(mrr)}


def scoring_metrics(task: str, logits, labels) -> dict:
    """The metrics of ``task`` (rm or reranker)."""
    return pair_metrics(logits, labels) if task == RM else rank_metrics(logits, labels)


def make_scoring_metrics(task: str) -> Callable[[Any], dict]:
    """A ``compute_metrics`` callable for ``transformers.Trainer`` (validation during training)."""
    def _fn(eval_pred: Any) -> dict:
        preds, labels = eval_pred.predictions, eval_pred.label_ids
        preds = preds[0] if isinstance(preds, tuple) else preds
        return scoring_metrics(task, preds, labels)

    return _fn
