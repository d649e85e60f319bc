"""PNG of the precision-recall and ROC curves that :func:`~swiftcls.metrics.curves.ranking_metrics` returns."""

from __future__ import annotations

import matplotlib.pyplot as plt

from .plots import _save

MAX_LINES = 12  # more labels than this are unreadable as lines: the best and worst by average precision are drawn


def _chosen(curves: dict) -> list[str]:
    """Labels to draw: all defined ones, or the MAX_LINES/2 best and worst by average precision."""
    defined = [name for name, c in curves.items() if c.get("defined")]
    if len(defined) <= MAX_LINES:
        return defined
    ranked = sorted(defined, key=lambda name: curves[name]["average_precision"])
    return ranked[-MAX_LINES // 2:][::-1] + ranked[:MAX_LINES // 2][::-1]


def plot_pr_roc(curves: dict, path: str) -> str | None:
    """Draw the PR curve (left) and the ROC curve (right) of each label.

    Args:
        curves: The ``curves`` table of the eval metrics.
        path: Where to write the PNG.

    Returns:
        The path written, or None when no label has both positive and negative rows.
    """
    names = _chosen(curves)
    if not names:
        return None
    fig, (pr, roc) = plt.subplots(1, 2, figsize=(11, 4.5))
    try:
        for name in names:
            c = curves[name]
            pr.plot(c["recall"], c["precision"], label=f"{name} (AP {c['average_precision']:.3f})")
            roc.plot(c["fpr"], c["tpr"], label=f"{name} (AUC {c['roc_auc']:.3f})")
        roc.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)  # a random ranking
        shown = "" if len(names) == sum(bool(c.get("defined")) for c in curves.values()) else \
            f" ({len(names)} best and worst labels by AP)"
        pr.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="Precision-recall" + shown)
        roc.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02), title="ROC")
        for ax in (pr, roc):
            ax.grid(alpha=0.3)
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=7, frameon=False)
    except Exception:
        plt.close(fig)
        raise
    return _save(fig, path)
