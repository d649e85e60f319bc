"""Multi-label decision thresholds tuned on validation rows: one per label, maximising that label's F1.

A model trained with BCE on many rare labels often never reaches probability 0.5 for most of them, so the fixed
0.5 threshold predicts nothing (GoEmotions: macro-F1 0.0) although the ranking of the probabilities is useful.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

# Fewer positives than this on the validation rows: the label's F1 curve is too noisy to tune on, keep the global
# threshold. 5 keeps a single lucky row from setting a threshold.
MIN_POSITIVES = 5


def tune_thresholds(probs: np.ndarray, labels: np.ndarray, default: float = 0.5,
                    min_positives: int = MIN_POSITIVES) -> tuple[np.ndarray, np.ndarray]:
    """Per-label thresholds maximising each label's F1 on these rows.

    The threshold is placed half-way between the lowest probability that is predicted positive and the next lower
    one, so rows scoring like the validation rows fall on the same side.

    Args:
        probs: Sigmoid probabilities ``[n, k]``.
        labels: 0/1 targets ``[n, k]``.
        default: The global threshold, kept for labels with fewer than ``min_positives`` positives.
        min_positives: See :data:`MIN_POSITIVES`.

    Returns:
        ``(thresholds [k], tuned [k] bool)``: tuned is False where the default was kept.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64) >= 0.5
    k = probs.shape[1]
    out, tuned = np.full(k, float(default)), np.zeros(k, dtype=bool)
    for j in range(k):
        positives = int(y[:, j].sum())
        if positives < min_positives:
            continue
        order = np.argsort(-probs[:, j], kind="stable")
        p, hit = probs[order, j], y[order, j]
        tp = np.cumsum(hit)
        predicted = np.arange(1, len(p) + 1)
        f1 = 2 * tp / (predicted + positives)
        # Only cut between different probabilities: tied rows are on the same side of any threshold.
        cut = np.append(p[:-1] > p[1:], True)
        f1 = np.where(cut, f1, -1.0)
        best = int(np.argmax(f1))
        lower = p[best + 1] if best + 1 < len(p) else 0.0
        out[j], tuned[j] = (p[best] + lower) / 2, True
    return out, tuned


def f1_at(probs: np.ndarray, labels: np.ndarray, thresholds) -> dict:
    """Macro and micro F1 of multi-label predictions ``probs >= thresholds`` (a number or one per label)."""
    y = (np.asarray(labels, dtype=np.float64) >= 0.5).astype(int)
    pred = (np.asarray(probs, dtype=np.float64) >= np.asarray(thresholds, dtype=np.float64)).astype(int)
    return {"f1_macro": float(f1_score(y, pred, average="macro", zero_division=0)),
            "f1_micro": float(f1_score(y, pred, average="micro", zero_division=0))}


def threshold_report(probs: np.ndarray, labels: np.ndarray, thresholds, names: list[str],
                     tuned: np.ndarray | None = None) -> dict:
    """Macro/micro F1 at the fixed 0.5 and at ``thresholds``, and the thresholds themselves (eval reports)."""
    fixed, chosen = f1_at(probs, labels, 0.5), f1_at(probs, labels, thresholds)
    report = {"f1_macro_at_0.5": fixed["f1_macro"], "f1_micro_at_0.5": fixed["f1_micro"],
              "f1_macro_tuned": chosen["f1_macro"], "f1_micro_tuned": chosen["f1_micro"],
              "thresholds": {n: round(float(t), 6) for n, t in zip(names, np.broadcast_to(thresholds, len(names)))}}
    if tuned is not None:
        report["thresholds_kept_default"] = [n for n, ok in zip(names, tuned) if not ok]
    return report
