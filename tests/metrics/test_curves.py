"""ROC-AUC, average precision and the PR / ROC curves, against hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest

from swiftcls.metrics.classification import compute_metrics, format_report
from swiftcls.metrics.curve_plots import plot_pr_roc
from swiftcls.metrics.curves import MAX_POINTS, ranking_metrics

SINGLE, MULTI, REG = "single_label_classification", "multi_label_classification", "regression"


def test_binary_auc_and_average_precision_by_hand():
    # Class-1 scores (logit differences) 0.9, 0.8, 0.4, 0.3 for targets 1, 0, 1, 0.
    logits = np.array([[0.0, 0.9], [0.0, 0.8], [0.0, 0.4], [0.0, 0.3]])
    y = np.array([1, 0, 1, 0])
    out = ranking_metrics(logits, y, SINGLE, ["neg", "pos"])
    # Positive/negative pairs ranked right: (0.9>0.8), (0.9>0.3), (0.4>0.3) of 4 -> 3/4.
    assert out["roc_auc"] == pytest.approx(0.75)
    # Positives at ranks 1 and 3: AP = (1/1 + 2/3) / 2.
    assert out["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    curve = out["curves"]["pos"]
    assert list(out["curves"]) == ["pos"] and curve["defined"]
    assert curve["fpr"][0] == 0 and curve["fpr"][-1] == curve["tpr"][-1] == 1
    assert curve["recall"][0] == 1 and curve["recall"][-1] == 0  # sklearn's order: falling recall


def test_multilabel_macro_skips_undefined_labels_and_micro_pools_all():
    logits = np.array([[2.0, -1.0, 0.5], [1.0, -2.0, 0.7], [-1.0, -3.0, 0.1], [-2.0, -0.5, 0.9]])
    y = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 0, 1]], dtype=float)  # label b: no positive row
    out = ranking_metrics(logits, y, MULTI, ["a", "b", "c"])
    assert out["curves"]["b"] == {"defined": False}
    # a: both positives above both negatives -> 1.0; c: of positives 0.5, 0.1, 0.9 only 0.9 beats negative 0.7.
    assert out["curves"]["a"]["roc_auc"] == 1.0 and out["curves"]["c"]["roc_auc"] == pytest.approx(1 / 3)
    assert out["roc_auc_macro"] == pytest.approx((1 + 1 / 3) / 2)  # b is left out, not counted as 0 or 0.5
    flat_y, flat_s = y.reshape(-1), logits.reshape(-1)
    pos, neg = flat_s[flat_y == 1], flat_s[flat_y == 0]
    pairs = (pos[:, None] > neg[None, :]).mean()  # no ties in these scores
    assert out["roc_auc_micro"] == pytest.approx(pairs)
    assert 0 < out["average_precision_micro"] <= 1 and "average_precision_macro" in out


def test_not_defined_for_regression_multiclass_or_one_class_splits():
    assert ranking_metrics(np.zeros((3, 1)), np.zeros(3), REG) == {}
    assert ranking_metrics(np.eye(3), np.arange(3), SINGLE) == {}  # 3 classes: no single positive class
    one_class = ranking_metrics(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([1, 1]), SINGLE)
    assert one_class == {"curves": {"1": {"defined": False}}}
    assert plot_pr_roc(one_class["curves"], "unused.png") is None


def test_curves_are_thinned_and_reach_the_report_and_the_plot(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(2000, 14))
    logits = y + rng.normal(size=y.shape)  # informative: AUC well above chance
    names = [f"label{i}" for i in range(14)]
    metrics = compute_metrics(MULTI, logits, y, dict(enumerate(names)))
    assert metrics["roc_auc_macro"] > 0.7 and metrics["average_precision_micro"] > 0.7
    assert all(len(c["fpr"]) <= MAX_POINTS and len(c["precision"]) <= MAX_POINTS
               for c in metrics["curves"].values())
    report = format_report(metrics, MULTI)
    assert "roc_auc_macro" in report and "curves" not in report
    path = plot_pr_roc(metrics["curves"], str(tmp_path / "pr_roc.png"))
    assert (tmp_path / "pr_roc.png").read_bytes()[:4] == b"\x89PNG" and path.endswith("pr_roc.png")
    binary = compute_metrics(SINGLE, np.stack([-logits[:, 0], logits[:, 0]], 1), y[:, 0], {0: "no", 1: "yes"})
    assert binary["roc_auc"] > 0.7 and list(binary["curves"]) == ["yes"]
