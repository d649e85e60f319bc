"""Probability calibration: temperature scaling fitted on validation logits, and the scores that judge it.

Single-label: one temperature ``T`` for all classes (softmax(z / T)), as in Guo et al. 2017; it never changes the
argmax. Multi-label: one temperature per label (sigmoid(z_j / T_j)); labels with too few positives or negatives on
the validation rows share the temperature fitted on all labels pooled. Either way the calibrated logits are
``z / T``, so the temperature folds into the head's weight and bias (see swiftcls/models/calibrated.py).
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit, log_softmax, softmax

from ..core.labels import MULTI, SINGLE
from .thresholds import MIN_POSITIVES

# The search interval of T. An undertrained multi-label model (all probabilities near 0.3 where labels are rare)
# needs T near 0.05; a validation set of one class only pushes T to a bound.
T_RANGE = (0.01, 100.0)
# A fit within 1% of a bound counts as stopped there (the bounded search never returns the bound itself).
AT_BOUND = 0.01
ECE_BINS = 15

logger = logging.getLogger(__name__)


def _fit(nll, what: str = "the calibration temperature") -> float:
    # Optimise log T: the loss is smoother there and T stays positive.
    res = minimize_scalar(lambda s: nll(np.exp(s)), bounds=tuple(np.log(T_RANGE)), method="bounded",
                          options={"xatol": 1e-4})
    t = float(np.exp(res.x))
    _warn_at_bound(t, what)
    return t


def _warn_at_bound(t: float, what: str) -> None:
    # A temperature stopped by its search range is not a fit: saved as is, it silently reshapes every probability.
    low, high = T_RANGE
    if t >= high * (1 - AT_BOUND):
        logger.warning("%s (T = %.4g) reached the upper bound %g of its search range: the validation logits carry "
                       "almost no information about the labels (a model at chance level, or too little training), "
                       "so calibrated probabilities are flattened to near-uniform. Train longer or check the "
                       "validation rows; pass --calibrate none to keep the raw probabilities.", what, t, high)
    elif t <= low * (1 + AT_BOUND):
        logger.warning("%s (T = %.4g) reached the lower bound %g of its search range: the validation logits are "
                       "almost flat, and even T = %g does not sharpen them enough (validation rows of one class, "
                       "or a collapsed model?). Check the validation rows; pass --calibrate none to keep the raw "
                       "probabilities.", what, t, low, low)


def _single_nll(z: np.ndarray, y: np.ndarray):
    return lambda t: -float(np.mean(log_softmax(z / t, axis=1)[np.arange(len(y)), y]))


def _bce(z: np.ndarray, y: np.ndarray):
    return lambda t: -float(np.mean(y * log_expit(z / t) + (1 - y) * log_expit(-z / t)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, problem_type: str,
                    min_positives: int = MIN_POSITIVES, names: list[str] | None = None) -> np.ndarray:
    """Temperatures minimising the validation negative log-likelihood.

    A temperature that ends at a bound of :data:`T_RANGE` is logged as a warning (it is kept: the bound is still the
    best temperature in range).

    Args:
        logits: Raw logits ``[n, k]``.
        labels: Class ids ``[n]`` (single-label) or 0/1 targets ``[n, k]`` (multi-label).
        problem_type: ``single_label_classification`` or ``multi_label_classification``.
        min_positives: Multi-label: a label needs this many positives and negatives for its own temperature.
        names: Multi-label: the label names, for the warning; default ``label <index>``.

    Returns:
        One temperature per label ``[k]`` (all equal for single-label).
    """
    z = np.asarray(logits, dtype=np.float64)
    if problem_type == SINGLE:
        return np.full(z.shape[1], _fit(_single_nll(z, np.asarray(labels).reshape(-1).astype(int))))
    if problem_type != MULTI:
        raise ValueError(f"calibration is for classification, not {problem_type}")
    y = (np.asarray(labels, dtype=np.float64) >= 0.5).astype(np.float64)
    enough = np.minimum(y.sum(axis=0), len(y) - y.sum(axis=0)) >= min_positives
    names = names or [f"label {j}" for j in range(z.shape[1])]
    shared = [n for n, ok in zip(names, enough) if not ok]
    # Fitted only when a label uses it, so an unused pooled temperature never warns.
    pooled = _fit(_bce(z, y), f"the temperature pooled over all labels, used by {', '.join(map(repr, shared))}") \
        if shared else None
    return np.array([_fit(_bce(z[:, j], y[:, j]), f"the temperature of label {names[j]!r}") if enough[j] else pooled
                     for j in range(z.shape[1])])


def _probs(logits: np.ndarray, problem_type: str) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    return softmax(z, axis=1) if problem_type == SINGLE else expit(z)


def _onehot(labels: np.ndarray, probs: np.ndarray, problem_type: str) -> np.ndarray:
    if problem_type == SINGLE:
        return np.eye(probs.shape[1])[np.asarray(labels).reshape(-1).astype(int)]
    return (np.asarray(labels, dtype=np.float64) >= 0.5).astype(np.float64)


def reliability(probs: np.ndarray, labels: np.ndarray, problem_type: str, bins: int = ECE_BINS) -> dict:
    """Confidence vs accuracy per equal-width bin.

    Single-label: the top class's probability against whether it was right. Multi-label: every (row, label)
    probability against whether the label is on.

    Returns:
        ``{"confidence": [...], "accuracy": [...], "count": [...]}`` per bin (empty bins: count 0).
    """
    if problem_type == SINGLE:
        conf = probs.max(axis=1)
        hit = (probs.argmax(axis=1) == np.asarray(labels).reshape(-1).astype(int)).astype(np.float64)
    else:
        conf, hit = probs.reshape(-1), _onehot(labels, probs, problem_type).reshape(-1)
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins)
    safe = np.maximum(count, 1)
    return {"confidence": (np.bincount(idx, conf, bins) / safe).tolist(),
            "accuracy": (np.bincount(idx, hit, bins) / safe).tolist(), "count": count.tolist()}


def ece(probs: np.ndarray, labels: np.ndarray, problem_type: str, bins: int = ECE_BINS) -> float:
    """Expected calibration error: the count-weighted mean |accuracy - confidence| over the bins of
    :func:`reliability`."""
    rel = reliability(probs, labels, problem_type, bins)
    count = np.asarray(rel["count"], dtype=np.float64)
    gap = np.abs(np.asarray(rel["accuracy"]) - np.asarray(rel["confidence"]))
    return float((count * gap).sum() / max(count.sum(), 1))


def brier(probs: np.ndarray, labels: np.ndarray, problem_type: str) -> float:
    """Brier score: mean squared error of the probabilities against the one-hot (single) or 0/1 (multi) targets;
    summed over classes per row for single-label, averaged over (row, label) pairs for multi-label."""
    err = (probs - _onehot(labels, probs, problem_type)) ** 2
    return float(err.sum(axis=1).mean() if problem_type == SINGLE else err.mean())


def calibration_scores(logits: np.ndarray, labels: np.ndarray, problem_type: str) -> dict:
    """``ece`` and ``brier`` of these logits (the probabilities a user gets)."""
    probs = _probs(logits, problem_type)
    return {"ece": ece(probs, labels, problem_type), "brier": brier(probs, labels, problem_type)}


def calibration_report(raw_logits: np.ndarray, labels: np.ndarray, problem_type: str,
                       temperature: np.ndarray) -> dict:
    """ECE and Brier score before (raw logits) and after (``logits / temperature``), and the temperature."""
    before = calibration_scores(raw_logits, labels, problem_type)
    after = calibration_scores(np.asarray(raw_logits, dtype=np.float64) / temperature, labels, problem_type)
    temp = [float(t) for t in temperature]
    return {"ece_before": before["ece"], "ece_after": after["ece"], "brier_before": before["brier"],
            "brier_after": after["brier"], "temperature": temp[0] if problem_type == SINGLE else temp}
