"""After training: fit the calibration temperature and tune multi-label thresholds on the validation logits.

The temperature is fitted first, then thresholds are tuned on the calibrated probabilities, so the saved thresholds
apply to the probabilities every loader of the checkpoint or its export returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ..core.decisions import CALIBRATION_KEY, THRESHOLDS_KEY, calibration_field
from ..core.labels import MULTI, REGRESSION, LabelSpace
from ..metrics.calibration import calibration_report, calibration_scores, fit_temperature, reliability
from ..metrics.classification import compute_metrics, logits_to_probs
from ..metrics.thresholds import threshold_report, tune_thresholds

logger = logging.getLogger(__name__)


@dataclass
class Decided:
    """What :func:`decide` learnt and how the model scores with it.

    Attributes:
        fields: The ``swiftcls_*`` fields to store in the checkpoint (empty: nothing learnt).
        thresholds: The thresholds in label-id order (multi-label) or None.
        metrics: Full metrics at the calibrated logits and chosen thresholds, with ``calibration`` (ECE/Brier
            before and after) and, multi-label, ``thresholds`` (F1 at 0.5 and tuned) blocks.
        diagrams: Reliability-diagram bins, ``{"uncalibrated": ..., "calibrated": ...}``.
    """

    fields: dict = field(default_factory=dict)
    thresholds: list[float] | None = None
    metrics: dict = field(default_factory=dict)
    diagrams: dict = field(default_factory=dict)


def decide(logits: np.ndarray, labels: np.ndarray, space: LabelSpace, calibrate: str, strategy: str,
           threshold: float) -> Decided:
    """Calibrate and tune on validation rows, and score the model with the result.

    Args:
        logits: Raw validation logits ``[n, k]`` (the trained model, no temperature applied).
        labels: Their labels (class ids, or 0/1 ``[n, k]``).
        space: The label space.
        calibrate: ``temperature`` or ``none`` (``--calibrate``).
        strategy: ``per_label`` or ``global`` (``--threshold_strategy``).
        threshold: The global threshold (``--threshold``); labels too rare to tune keep it.
    """
    out = Decided()
    kind = space.problem_type
    if kind == REGRESSION:
        out.metrics = compute_metrics(kind, logits, labels, space.id2label)
        return out
    calibrated = np.asarray(logits, dtype=np.float64)
    if calibrate == "temperature":
        temperature = fit_temperature(logits, labels, kind, names=space.names)
        calibrated = calibrated / temperature
        out.fields[CALIBRATION_KEY] = calibration_field(temperature, space.names, kind == MULTI, folded=False)
        report = calibration_report(logits, labels, kind, temperature)
        out.diagrams = {"uncalibrated": reliability(logits_to_probs(logits, kind), labels, kind),
                        "calibrated": reliability(logits_to_probs(calibrated, kind), labels, kind)}
        logger.info("calibration: temperature %s; ECE %.4f -> %.4f, Brier %.4f -> %.4f",
                    np.round(temperature, 3).tolist() if kind == MULTI else round(float(temperature[0]), 4),
                    report["ece_before"], report["ece_after"], report["brier_before"], report["brier_after"])
    thresholds = None
    if kind == MULTI:
        probs = logits_to_probs(calibrated, kind)
        if strategy == "per_label":
            tuned_values, tuned = tune_thresholds(probs, labels, threshold)
            thresholds = [float(t) for t in tuned_values]
            out.fields[THRESHOLDS_KEY] = {n: round(t, 6) for n, t, ok in zip(space.names, thresholds, tuned) if ok}
            thresholds = [out.fields[THRESHOLDS_KEY].get(n, threshold) for n in space.names]
            block = threshold_report(probs, labels, thresholds, space.names, tuned)
        else:
            thresholds = [float(threshold)] * space.num_labels
            block = threshold_report(probs, labels, thresholds, space.names)
        out.thresholds = thresholds
    out.metrics = compute_metrics(kind, calibrated, labels, space.id2label,
                                  np.asarray(thresholds) if thresholds is not None else 0.5)
    out.metrics.update(calibration_scores(calibrated, labels, kind))
    if calibrate == "temperature":
        out.metrics["calibration"] = report
    if kind == MULTI:
        out.metrics["thresholds"] = block
    return out


def score_with(logits: np.ndarray, labels: np.ndarray, space: LabelSpace, thresholds: list[float] | None,
               tune: bool) -> dict:
    """Metrics of already-calibrated logits at ``thresholds``, with ECE/Brier and (multi-label) a ``thresholds``
    block: F1 at 0.5, at the model's thresholds, and, with ``tune``, at thresholds tuned on these rows."""
    kind = space.problem_type
    if kind == REGRESSION:
        return compute_metrics(kind, logits, labels, space.id2label)
    chosen = np.asarray(thresholds if thresholds is not None else [0.5] * space.num_labels)
    metrics = compute_metrics(kind, logits, labels, space.id2label, chosen)
    metrics.update(calibration_scores(logits, labels, kind))
    probs = logits_to_probs(logits, kind)
    if kind == MULTI:
        block = threshold_report(probs, labels, chosen, space.names)
        if tune:
            values, tuned = tune_thresholds(probs, labels, 0.5)
            tuned_block = threshold_report(probs, labels, values, space.names, tuned)
            block.update(model_thresholds=block.pop("thresholds"), thresholds=tuned_block["thresholds"],
                         f1_macro_model=block.pop("f1_macro_tuned"), f1_micro_model=block.pop("f1_micro_tuned"),
                         f1_macro_tuned=tuned_block["f1_macro_tuned"], f1_micro_tuned=tuned_block["f1_micro_tuned"],
                         thresholds_kept_default=tuned_block["thresholds_kept_default"])
        metrics["thresholds"] = block
    return metrics



def decisions_report(metrics: dict) -> str:
    """Console lines for the ``calibration`` and ``thresholds`` blocks of the metrics ("" when neither is there)."""
    lines = []
    cal = metrics.get("calibration")
    if cal:
        lines.append(f"calibration          ECE {cal['ece_before']:.4f} -> {cal['ece_after']:.4f}, "
                     f"Brier {cal['brier_before']:.4f} -> {cal['brier_after']:.4f} (temperature scaling)")
    block = metrics.get("thresholds")
    if block:
        lines.append(f"thresholds           macro-F1 {block['f1_macro_at_0.5']:.4f} at 0.5, "
                     f"{block['f1_macro_tuned']:.4f} tuned; micro-F1 {block['f1_micro_at_0.5']:.4f} at 0.5, "
                     f"{block['f1_micro_tuned']:.4f} tuned")
        if "f1_macro_model" in block:
            lines.append(f"                     at the model's thresholds: macro-F1 {block['f1_macro_model']:.4f}, "
                         f"micro-F1 {block['f1_micro_model']:.4f}")
    return "\n".join(lines)
