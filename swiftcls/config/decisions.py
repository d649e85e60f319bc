"""Options of what is learnt on validation rows after training: multi-label thresholds and calibration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .fields import arg


@dataclass
class DecisionArguments:
    """How sft turns validation logits into the checkpoint's decision rule (docs/metrics.md)."""

    _argument_group_name = "Thresholds and calibration (after training, on the validation rows)"

    threshold_strategy: Literal["per_label", "global"] = arg(
        "per_label", "Multi-label: per_label tunes one threshold per label for its best F1 on the validation rows "
                     "(labels with fewer than 5 positives keep --threshold) and saves them with the checkpoint; "
                     "global uses --threshold for every label.")
    calibrate: Literal["temperature", "none"] = arg(
        "temperature", "Fit temperature scaling on the validation logits (one temperature for single-label, one per "
                       "label for multi-label), saved with the checkpoint and folded into the exported head; none "
                       "keeps the raw probabilities.")


@dataclass
class TuneArguments:
    """``swiftcls eval``: tune multi-label thresholds on the evaluated rows."""

    _argument_group_name = "Threshold tuning"

    tune_thresholds: bool = arg(False, "Multi-label: also tune one threshold per label on these rows and report "
                                       "macro/micro F1 at 0.5, at the model's thresholds and at the tuned ones.")
    save_thresholds: bool = arg(False, "With --tune_thresholds: write the tuned thresholds into the checkpoint "
                                       "(config.json, or args.json of a LoRA checkpoint; only the "
                                       "swiftcls_thresholds field changes, the old value is kept in the metrics "
                                       "file).")
