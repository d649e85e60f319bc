"""Model-card sections for what was learnt on validation rows: per-label thresholds and the folded calibration."""

from __future__ import annotations

import json

from ..core.decisions import CALIBRATION_KEY, THRESHOLDS_KEY, thresholds_for
from ..core.labels import MULTI, LabelSpace


def card_thresholds(space: LabelSpace, payload: dict) -> list[float]:
    """The thresholds the export predicts with, in label-id order."""
    return thresholds_for(payload, space.names)


def decision_lines(space: LabelSpace, payload: dict) -> list[str]:
    """Card lines: the multi-label decision rule (a table of thresholds when they were tuned) and the calibration.

    Args:
        space: The labels.
        payload: ``args.json`` of the export, plus the ``swiftcls_thresholds`` and ``swiftcls_calibration`` fields.
    """
    lines = []
    default = payload.get("threshold", 0.5)
    tuned = payload.get(THRESHOLDS_KEY)
    if space.problem_type == MULTI and tuned:
        lines += [f"Multi-label: a label is predicted when its sigmoid probability is >= its threshold, tuned for "
                  f"the label's F1 on the validation rows (labels without a tuned value use {default}, the training "
                  f"threshold). They are also in `config.json` (`{THRESHOLDS_KEY}`); swiftcls applies them, vLLM and "
                  "plain transformers do not (see below).", "", "| label | threshold |", "|---|---|",
                  *(f"| {n} | {t:.4f}{'' if n in tuned else ' (default)'} |"
                    for n, t in zip(space.names, card_thresholds(space, payload))), ""]
    elif space.problem_type == MULTI:
        lines += [f"Multi-label: a label is predicted when its sigmoid probability is >= {default} (the training "
                  "threshold).", ""]
    cal = payload.get(CALIBRATION_KEY)
    if cal:
        temp = cal["temperature"]
        shown = (f"temperature {temp:.4f}" if not isinstance(temp, dict)
                 else "one temperature per label (`config.json`, " f"`{CALIBRATION_KEY}`)")
        lines += [f"Calibrated: temperature scaling fitted on the validation rows ({shown}) is folded into the "
                  "classification head (its weight and bias divided by the temperature), so the logits and the "
                  "softmax/sigmoid probabilities of every loader (transformers, vLLM, swiftcls) are the calibrated "
                  "ones.", ""]
    return lines


def vllm_threshold_lines(space: LabelSpace, payload: dict) -> list[str]:
    """The vLLM note for multi-label exports: apply the (per-label) thresholds to ``probs`` client-side."""
    values = [round(t, 6) for t in card_thresholds(space, payload)]
    per_label = len(set(values)) > 1
    return [f"- vLLM's `label` is the highest-scoring label even for this multi-label model. Apply the "
            f"{'per-label thresholds' if per_label else 'training threshold'} to `probs` (label-id order) instead:",
            "", "```python",
            f"thresholds = {json.dumps(values)}  # config.json \"{THRESHOLDS_KEY}\" / args.json \"threshold\"",
            f"names = {space.names!r}",
            'labels = [[n for n, p, t in zip(names, item["probs"], thresholds) if p >= t]',
            '          for item in response["data"]]',
            "```", "", "A runnable client: `examples/vllm_client.py` in the swiftcls repository.", ""]
