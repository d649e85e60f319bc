"""PNG plots of evaluation results: confusion matrices and training curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

# Agg renders to files without a display, which is what training servers and CI have.
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

# Eval entries also carry bookkeeping numbers that are not quality metrics.
_NOT_METRICS = {"eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second",
                "eval_model_preparation_time", "epoch", "step"}


def _prepare(path: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def plot_confusion_matrix(cm: list[list[int]], labels: list[str], path: str, normalize: bool = False) -> str:
    """Draw an annotated confusion matrix heat map.

    Args:
        cm: Square matrix, rows = true class, columns = predicted class.
        labels: Class names in id order.
        path: Where to write the PNG.
        normalize: Show each row as fractions of that true class instead of counts.

    Returns:
        The path written.
    """
    mat = np.asarray(cm, dtype=np.float64)
    if normalize:
        sums = mat.sum(axis=1, keepdims=True)
        # Rows of absent classes sum to 0; leave them at 0 rather than dividing into nan.
        mat = np.divide(mat, sums, out=np.zeros_like(mat), where=sums > 0)
    n = len(labels)
    size = max(4.0, 0.6 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    try:
        im = ax.imshow(mat, cmap="Blues", vmin=0)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set(xticks=range(n), yticks=range(n), xlabel="Predicted", ylabel="True",
               title="Confusion matrix" + (" (normalized)" if normalize else ""))
        ax.set_xticklabels(labels, rotation=45, ha="right")
        ax.set_yticklabels(labels)
        # Switch text colour on dark cells so the numbers stay readable.
        cutoff = mat.max() / 2 if mat.size and mat.max() > 0 else 0.5
        for i in range(mat.shape[0]):
            for j in range(mat.shape[1]):
                text = f"{mat[i, j]:.2f}" if normalize else f"{int(mat[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if mat[i, j] > cutoff else "black")
    except Exception:
        plt.close(fig)
        raise
    return _save(fig, path)


def _save(fig, path: str) -> str:
    """Write ``fig`` as a PNG (parent folders created) and free it."""
    try:
        fig.tight_layout()
        out = _prepare(path)
        fig.savefig(out, dpi=120, bbox_inches="tight")  # "tight" keeps a legend placed outside the axes
    finally:
        plt.close(fig)
    return str(out)


def _series(log_history: list[dict], key: str) -> tuple[list[float], list[float]]:
    points = [(e["step"], e[key]) for e in log_history
              if key in e and "step" in e and isinstance(e[key], (int, float))]
    return [p[0] for p in points], [p[1] for p in points]


def curve_series(log_history: list[dict]) -> tuple[dict[str, tuple[list, list]], dict[str, tuple[list, list]]]:
    """The loss and eval-metric series :func:`plot_curves` draws, as ``{name: (steps, values)}``.

    Metrics that are equal at every step (single-label accuracy and the micro averages always are) are one series
    named ``"accuracy = micro_f1 = ..."``, so that no line hides another and the legend lists each name once.
    """
    losses = {"train loss": _series(log_history, "loss"), "eval loss": _series(log_history, "eval_loss")}
    losses = {name: s for name, s in losses.items() if s[0]}
    metric_keys = sorted({k for e in log_history for k in e if k.startswith("eval_")} - _NOT_METRICS)
    merged: dict[tuple, list[str]] = {}
    for key in metric_keys:
        steps, values = _series(log_history, key)
        if steps:
            merged.setdefault((tuple(steps), tuple(values)), []).append(key[len("eval_"):])
    metrics = {" = ".join(names): (list(steps), list(values)) for (steps, values), names in merged.items()}
    return losses, metrics


def plot_curves(log_history: list[dict], path: str) -> str | None:
    """Plot training/eval loss and eval metrics against the global step.

    Args:
        log_history: ``TrainerState.log_history``: train entries carry "loss", eval entries "eval_*" keys.
        path: Where to write the PNG.

    Returns:
        The path written, or None when the history holds nothing plottable.
    """
    losses, metrics = curve_series(log_history)
    if not losses and not metrics:
        return None

    panels = [p for p in (losses, metrics) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4), squeeze=False)
    try:
        for ax, series, title in zip(axes[0], panels, ("Loss" if losses else "Eval metrics", "Eval metrics")):
            for name, (steps, values) in series.items():
                # Eval points are sparse, so mark them; a dense train loss reads better as a plain line, but a
                # series of one or a few points is invisible without markers.
                dense = name == "train loss" and len(steps) > 10
                size = 6 if len(steps) == 1 else 3
                ax.plot(steps, values, label=name, marker=None if dense else "o", markersize=size)
            ax.set(xlabel="step", title=title)
            ax.grid(alpha=0.3)
            # Below the axes, not over the curves (which fill any corner one could pick).
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8, frameon=False)
    except Exception:
        plt.close(fig)
        raise
    return _save(fig, path)


def plot_reliability(diagrams: dict[str, dict], path: str) -> str:
    """Reliability diagram: accuracy against confidence per bin, one line per probability source.

    Args:
        diagrams: ``{name: reliability dict}`` as :func:`swiftcls.metrics.calibration.reliability` returns
            (e.g. ``{"uncalibrated": ..., "calibrated": ...}``); empty bins are left out.
        path: Where to write the PNG.

    Returns:
        The path written.
    """
    fig, ax = plt.subplots(figsize=(5, 5))
    try:
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
        for name, rel in diagrams.items():
            points = [(c, a) for c, a, n in zip(rel["confidence"], rel["accuracy"], rel["count"]) if n]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=4, label=name)
        ax.set(xlabel="confidence (predicted probability)", ylabel="accuracy (observed frequency)",
               xlim=(0, 1), ylim=(0, 1), title="Reliability diagram")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    except Exception:
        plt.close(fig)
        raise
    return _save(fig, path)
