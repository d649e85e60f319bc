"""Threshold-free metrics: ROC-AUC, average precision and the PR / ROC curves behind them.

They score how well the model *ranks* positives above negatives, whatever threshold is later used, so they show
signal that F1 at a fixed threshold hides (a multi-label model whose probabilities all stay below 0.5 has an F1 of
0 and can still rank well). Defined for binary single-label (class id 1 is the positive class) and for every label
of a multi-label task; a label whose rows are all positive or all negative has no ROC-AUC or average precision, so
it is left out of the macro averages and its curve (the ``defined`` field says so).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from ..core.labels import MULTI, SINGLE

MAX_POINTS = 101  # curve points kept per label: enough to draw, small enough for eval_metrics.json


def _scores_and_targets(logits: np.ndarray, labels: np.ndarray, problem_type: str) -> tuple | None:
    """``(scores [n, k], 0/1 targets [n, k])`` with one column per scored label, or None when not defined."""
    arr = np.asarray(logits, dtype=np.float64)
    arr = arr.reshape(-1, 1) if arr.ndim == 1 else arr
    if problem_type == SINGLE and arr.shape[1] == 2:
        # The logit difference ranks rows exactly as the softmax probability of class 1 does.
        y = np.asarray(labels).reshape(-1).astype(int)
        return (arr[:, 1] - arr[:, 0]).reshape(-1, 1), (y == 1).astype(int).reshape(-1, 1)
    if problem_type == MULTI:
        # Trainer hands BCE targets back as floats; logits rank rows exactly as sigmoid probabilities do.
        return arr, (np.asarray(labels, dtype=np.float64).reshape(arr.shape) >= 0.5).astype(int)
    return None


def _thin(*arrays: np.ndarray) -> list[list[float]]:
    """At most :data:`MAX_POINTS` evenly spaced points of each curve array (first and last kept)."""
    n = len(arrays[0])
    idx = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int))
    return [[round(float(a[i]), 6) for i in idx] for a in arrays]


def ranking_metrics(logits: np.ndarray, labels: np.ndarray, problem_type: str,
                    names: list[str] | None = None) -> dict:
    """ROC-AUC and average precision (the area under the PR curve), with the curves for plotting.

    Args:
        logits: Model outputs, shape [n, k].
        labels: Class ids [n] (single-label) or a 0/1 matrix [n, k] (multi-label).
        problem_type: The HF problem type; regression and single-label with more than two classes get ``{}``.
        names: Label names in id order (ids are used when missing).

    Returns:
        Binary: ``roc_auc`` and ``average_precision``. Multi-label: ``roc_auc_macro``, ``roc_auc_micro``,
        ``average_precision_macro`` and ``average_precision_micro``. Both: ``curves``, a table
        ``{label: {"defined", "roc_auc", "average_precision", "fpr", "tpr", "precision", "recall"}}`` (binary: one
        entry, the positive class). Averages that no label defines are left out.
    """
    prepared = _scores_and_targets(logits, labels, problem_type)
    if prepared is None:
        return {}
    scores, y = prepared
    if problem_type == SINGLE:
        names = [names[1] if names and len(names) > 1 else "1"]
    else:
        names = list(names) if names else [str(i) for i in range(y.shape[1])]
    curves, aucs, aps = {}, [], []
    for j, name in enumerate(names):
        s, t = scores[:, j], y[:, j]
        if t.min() == t.max():
            curves[name] = {"defined": False}
            continue
        fpr, tpr, _ = roc_curve(t, s)
        precision, recall, _ = precision_recall_curve(t, s)
        auc, ap = float(roc_auc_score(t, s)), float(average_precision_score(t, s))
        aucs.append(auc)
        aps.append(ap)
        fpr, tpr = _thin(fpr, tpr)
        precision, recall = _thin(precision, recall)
        curves[name] = {"defined": True, "roc_auc": auc, "average_precision": ap, "fpr": fpr, "tpr": tpr,
                        "precision": precision, "recall": recall}
    out: dict = {}
    if problem_type == SINGLE:
        if aucs:
            out.update(roc_auc=aucs[0], average_precision=aps[0])
    else:
        if aucs:
            out.update(roc_auc_macro=float(np.mean(aucs)), average_precision_macro=float(np.mean(aps)))
        flat_y, flat_s = y.reshape(-1), scores.reshape(-1)
        if flat_y.min() != flat_y.max():
            out.update(roc_auc_micro=float(roc_auc_score(flat_y, flat_s)),
                       average_precision_micro=float(average_precision_score(flat_y, flat_s)))
    out["curves"] = curves
    return out
