"""Turn model logits into predictions and evaluation metrics for the three HF problem types."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import expit, softmax
from sklearn.metrics import accuracy_score, confusion_matrix, hamming_loss, precision_recall_fscore_support

from ..core.labels import BEST_METRIC, MULTI, PROBLEM_TYPES, REGRESSION, SINGLE
from .curves import ranking_metrics

_AVERAGES = ("micro", "macro", "weighted")


def _check(problem_type: str) -> None:
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"unknown problem_type {problem_type!r}; expected one of {PROBLEM_TYPES}")


def _as_2d(logits: np.ndarray) -> np.ndarray:
    # float64 because models may emit fp16/bf16 logits, where softmax/sigmoid lose precision.
    arr = np.asarray(logits, dtype=np.float64)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


def _float(x: Any) -> float:
    """Plain float with nan/inf mapped to 0.0, so the metrics always serialise to valid JSON."""
    value = float(x)
    return value if math.isfinite(value) else 0.0


def _names(id2label: dict | None, n: int) -> list[str]:
    # id2label read back from a config.json has string keys, so normalise them to ints.
    mapping = {int(k): str(v) for k, v in (id2label or {}).items()}
    return [mapping.get(i, str(i)) for i in range(n)]


def logits_to_probs(logits: np.ndarray, problem_type: str) -> np.ndarray:
    """Convert raw logits into probabilities (or leave regression outputs alone).

    Args:
        logits: Model outputs, shape [n, k].
        problem_type: One of "single_label_classification", "multi_label_classification", "regression".

    Returns:
        Softmax over classes (single), element-wise sigmoid (multi) or the unchanged values (regression).
    """
    _check(problem_type)
    if problem_type == REGRESSION:
        return np.asarray(logits)
    arr = _as_2d(logits)
    return softmax(arr, axis=1) if problem_type == SINGLE else expit(arr)


def predict(logits: np.ndarray, problem_type: str, threshold: float = 0.5) -> np.ndarray:
    """Turn logits into final predictions.

    Args:
        logits: Model outputs, shape [n, k].
        problem_type: The HF problem type.
        threshold: Probability at or above which a label is switched on (multi-label only).

    Returns:
        Class ids [n] (single), a 0/1 int matrix [n, k] (multi), or values [n] / [n, k] (regression).
    """
    _check(problem_type)
    arr = _as_2d(logits)
    if problem_type == SINGLE:
        return arr.argmax(axis=1)
    if problem_type == MULTI:
        return (expit(arr) >= threshold).astype(int)
    return arr[:, 0] if arr.shape[1] == 1 else arr


def _prf_table(y_true: np.ndarray, y_pred: np.ndarray, names: list[str], **kw: Any) -> dict:
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0, **kw)
    return {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(names)}


def _single(logits: np.ndarray, labels: np.ndarray, id2label: dict | None) -> dict:
    n_cls = _as_2d(logits).shape[1]
    y = np.asarray(labels).reshape(-1).astype(int)
    pred = predict(logits, SINGLE)
    ids = list(range(n_cls))  # so classes absent from this split still get a row/column
    names = _names(id2label, n_cls)
    out: dict[str, Any] = {"accuracy": float(accuracy_score(y, pred))}
    for avg in _AVERAGES:
        p, r, f, _ = precision_recall_fscore_support(y, pred, labels=ids, average=avg, zero_division=0)
        out.update({f"precision_{avg}": float(p), f"recall_{avg}": float(r), f"f1_{avg}": float(f)})
    out["per_class"] = _prf_table(y, pred, names, labels=ids)
    out["confusion_matrix"] = confusion_matrix(y, pred, labels=ids).tolist()
    out["labels"] = names
    return out


def _multi(logits: np.ndarray, labels: np.ndarray, id2label: dict | None, threshold: float) -> dict:
    pred = predict(logits, MULTI, threshold)
    # Trainer hands BCE targets back as floats; round them to the 0/1 ints sklearn expects.
    y = (np.asarray(labels, dtype=np.float64).reshape(pred.shape) >= 0.5).astype(int)
    prf = {avg: precision_recall_fscore_support(y, pred, average=avg, zero_division=0) for avg in _AVERAGES}
    out: dict[str, Any] = {f"f1_{avg}": float(prf[avg][2]) for avg in _AVERAGES}
    out.update(precision_micro=float(prf["micro"][0]), recall_micro=float(prf["micro"][1]),
               subset_accuracy=float(accuracy_score(y, pred)), hamming_loss=float(hamming_loss(y, pred)))
    out["per_label"] = _prf_table(y, pred, _names(id2label, pred.shape[1]))
    return out


def _regression(logits: np.ndarray, labels: np.ndarray) -> dict:
    # Multi-target regression is scored on all targets pooled together.
    pred = _as_2d(logits).reshape(-1)
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    mse = float(np.mean((pred - y) ** 2))
    out = {"mse": _float(mse), "mae": _float(np.mean(np.abs(pred - y))), "rmse": _float(math.sqrt(mse))}
    # Correlations are undefined for constant inputs (scipy returns nan and warns); report 0.0 instead.
    defined = len(y) >= 2 and np.ptp(pred) > 0 and np.ptp(y) > 0
    out["pearson"] = _float(stats.pearsonr(pred, y)[0]) if defined else 0.0
    out["spearman"] = _float(stats.spearmanr(pred, y)[0]) if defined else 0.0
    return out


def compute_metrics(problem_type: str, logits: np.ndarray, labels: np.ndarray,
                    id2label: dict[int, str] | None = None, threshold: float = 0.5) -> dict:
    """Compute every metric for a problem type; all values are JSON-serialisable Python types.

    Args:
        problem_type: The HF problem type.
        logits: Model outputs, shape [n, k].
        labels: Class ids [n] (single), a 0/1 matrix [n, k] (multi) or targets [n] / [n, k] (regression).
        id2label: Class id -> name; ids are used as names when missing.
        threshold: Sigmoid threshold for multi-label predictions.

    Returns:
        A flat dict of scalar metrics, plus "per_class", "confusion_matrix" and "labels" (single)
        or "per_label" (multi); binary and multi-label also get ROC-AUC, average precision and their
        "curves" (:func:`~swiftcls.metrics.curves.ranking_metrics`).
    """
    _check(problem_type)
    if problem_type == REGRESSION:
        return _regression(logits, labels)
    out = _single(logits, labels, id2label) if problem_type == SINGLE else _multi(logits, labels, id2label, threshold)
    return {**out, **ranking_metrics(logits, labels, problem_type, _names(id2label, _as_2d(logits).shape[1]))}


def headline(metrics: dict, problem_type: str) -> dict:
    """Keep only the scalar metrics (for logging and Trainer), dropping tables and matrices."""
    _check(problem_type)
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def default_metric_for_best(problem_type: str) -> tuple[str, bool]:
    """Return (metric name as in compute_metrics, greater_is_better) used to pick the best checkpoint."""
    _check(problem_type)
    return BEST_METRIC[problem_type]


def make_compute_metrics(problem_type: str, id2label: dict[int, str] | None,
                         threshold: float = 0.5) -> Callable[[Any], dict]:
    """Build a ``compute_metrics`` callable for ``transformers.Trainer``.

    The callable returns the headline metrics unprefixed; Trainer adds the "eval_" prefix itself.
    """
    _check(problem_type)

    def _fn(eval_pred: Any) -> dict:
        preds, labels = eval_pred.predictions, eval_pred.label_ids
        # Models that also return hidden states/attentions give a tuple; logits always come first.
        preds = preds[0] if isinstance(preds, tuple) else preds
        labels = labels[0] if isinstance(labels, tuple) else labels
        return headline(compute_metrics(problem_type, preds, labels, id2label, threshold), problem_type)

    return _fn


def save_metrics(metrics: dict, path: str) -> None:
    """Write metrics as pretty-printed JSON, creating parent directories as needed."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def format_report(metrics: dict, problem_type: str) -> str:
    """Render metrics as human-readable text: headline numbers, then a per-class/per-label table."""
    lines = [f"{k:<20} {v:.4f}" for k, v in headline(metrics, problem_type).items()]
    table = metrics.get("per_class") or metrics.get("per_label")
    if table:
        width = max(12, *(len(name) for name in table))
        lines += ["", f"{'label':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
        lines += [f"{name:<{width}} {row['precision']:>9.4f} {row['recall']:>9.4f} {row['f1']:>9.4f} "
                  f"{row['support']:>8d}" for name, row in table.items()]
    return "\n".join(lines)
