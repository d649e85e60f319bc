"""Tests for swiftcls.metrics and swiftcls.plots against hand-computed numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from swiftcls.metrics.classification import (
    compute_metrics,
    default_metric_for_best,
    format_report,
    headline,
    logits_to_probs,
    make_compute_metrics,
    predict,
    save_metrics,
)
from swiftcls.metrics.plots import curve_series, plot_confusion_matrix, plot_curves

SINGLE, MULTI, REG = "single_label_classification", "multi_label_classification", "regression"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _one_hot_logits(pred_ids: list[int], n_cls: int) -> np.ndarray:
    logits = np.full((len(pred_ids), n_cls), -2.0)
    logits[np.arange(len(pred_ids)), pred_ids] = 3.0
    return logits


# 3-class example: y_true = [0, 0, 1, 1, 2, 2], y_pred = [0, 1, 1, 1, 2, 0]
#   confusion (rows true, cols pred): [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
#   class a: predicted twice, 1 right -> P = 1/2; 2 true, 1 found -> R = 1/2; F1 = 1/2
#   class b: predicted 3 times, 2 right -> P = 2/3; R = 2/2 = 1; F1 = 2*(2/3)/(5/3) = 4/5
#   class c: predicted once, right -> P = 1; R = 1/2; F1 = 2*(1/2)/(3/2) = 2/3
#   accuracy = micro P = micro R = micro F1 = 4/6
#   macro P = (1/2 + 2/3 + 1)/3 = 13/18, macro R = (1/2 + 1 + 1/2)/3 = 2/3,
#   macro F1 = (1/2 + 4/5 + 2/3)/3 = 59/90
#   supports are all 2, so weighted == macro.
Y3 = np.array([0, 0, 1, 1, 2, 2])
LOGITS3 = _one_hot_logits([0, 1, 1, 1, 2, 0], 3)
NAMES3 = {0: "a", 1: "b", 2: "c"}


def test_single_label_hand_computed():
    m = compute_metrics(SINGLE, LOGITS3, Y3, NAMES3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    for key in ("precision_micro", "recall_micro", "f1_micro"):
        assert m[key] == pytest.approx(4 / 6)
    assert m["precision_macro"] == pytest.approx(13 / 18)
    assert m["recall_macro"] == pytest.approx(2 / 3)
    assert m["f1_macro"] == pytest.approx(59 / 90)
    assert m["f1_weighted"] == pytest.approx(59 / 90)
    assert m["precision_weighted"] == pytest.approx(13 / 18)
    assert m["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_class"]["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert m["per_class"]["c"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["labels"] == ["a", "b", "c"]
    json.dumps(m, allow_nan=False)


def test_softmax_rows_sum_to_one_and_predict_argmax():
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    probs = logits_to_probs(logits, SINGLE)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.all(np.isfinite(probs))  # huge logits must not overflow
    np.testing.assert_array_equal(predict(logits, SINGLE), [2, 0, 0])


def test_absent_classes_appear():
    # 4 classes, but only classes 0 and 1 occur in labels and predictions.
    m = compute_metrics(SINGLE, _one_hot_logits([0, 1, 1], 4), np.array([0, 1, 0]),
                        {"0": "w", "1": "x", "2": "y", "3": "z"})  # string keys as read from config.json
    assert m["labels"] == ["w", "x", "y", "z"]
    assert np.array(m["confusion_matrix"]).shape == (4, 4)
    assert m["confusion_matrix"][0] == [1, 1, 0, 0]
    assert m["per_class"]["z"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    # macro averages over all 4 classes: P = (1 + 1/2)/4, R = (1/2 + 1)/4
    assert m["precision_macro"] == pytest.approx(1.5 / 4)


def test_single_without_id2label_uses_ids():
    m = compute_metrics(SINGLE, LOGITS3, Y3)
    assert m["labels"] == ["0", "1", "2"]


# Multi-label: logits -> sigmoid >= 0.5 (sigmoid(0) = 0.5 counts as on)
#   preds  = [[1,0,1],[0,1,1],[1,1,0]], labels = [[1,0,1],[0,1,0],[1,0,0]]
#   label 0: TP 2 -> P = R = F1 = 1, support 2
#   label 1: TP 1, FP 1 -> P = 1/2, R = 1, F1 = 2/3, support 1; label 2: same as label 1
#   micro: TP 4, FP 2, FN 0 -> P = 4/6, R = 1, F1 = 8/10
#   macro F1 = (1 + 2/3 + 2/3)/3 = 7/9; weighted F1 = (2*1 + 2/3 + 2/3)/4 = 5/6
#   subset accuracy = 1/3 (only row 0 exact); hamming loss = 2 wrong cells / 9
ML_LOGITS = np.array([[3.0, -3.0, 0.0], [-3.0, 3.0, 3.0], [3.0, 3.0, -3.0]])
ML_LABELS = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=np.float32)  # Trainer gives float targets


def test_multi_label_hand_computed():
    m = compute_metrics(MULTI, ML_LOGITS, ML_LABELS, {0: "x", 1: "y", 2: "z"})
    assert m["precision_micro"] == pytest.approx(4 / 6)
    assert m["recall_micro"] == pytest.approx(1.0)
    assert m["f1_micro"] == pytest.approx(0.8)
    assert m["f1_macro"] == pytest.approx(7 / 9)
    assert m["f1_weighted"] == pytest.approx(5 / 6)
    assert m["subset_accuracy"] == pytest.approx(1 / 3)
    assert m["hamming_loss"] == pytest.approx(2 / 9)
    assert m["per_label"]["x"] == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2})
    assert m["per_label"]["y"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    json.dumps(m, allow_nan=False)


def test_multi_label_threshold():
    probs = logits_to_probs(ML_LOGITS, MULTI)
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-ML_LOGITS)))
    at_half = predict(ML_LOGITS, MULTI)
    assert at_half.dtype.kind == "i"
    np.testing.assert_array_equal(at_half, [[1, 0, 1], [0, 1, 1], [1, 1, 0]])
    # sigmoid(0) = 0.5 drops out at 0.6; sigmoid(3) ~ 0.953 survives 0.6 but not 0.99.
    np.testing.assert_array_equal(predict(ML_LOGITS, MULTI, 0.6), [[1, 0, 0], [0, 1, 1], [1, 1, 0]])
    assert predict(ML_LOGITS, MULTI, 0.99).sum() == 0
    # At 0.6 row 0 loses its correct third label, so no row matches exactly any more.
    m = compute_metrics(MULTI, ML_LOGITS, ML_LABELS, threshold=0.6)
    assert m["subset_accuracy"] == pytest.approx(0.0)


def test_regression_matches_numpy_scipy():
    rng = np.random.default_rng(0)
    y = rng.normal(size=20)
    preds = y + rng.normal(scale=0.3, size=20)
    logits = preds.reshape(-1, 1)
    np.testing.assert_array_equal(logits_to_probs(logits, REG), logits)
    np.testing.assert_array_equal(predict(logits, REG), preds)  # [n, 1] squeezed to [n]
    m = compute_metrics(REG, logits, y)
    assert m["mse"] == pytest.approx(np.mean((preds - y) ** 2))
    assert m["mae"] == pytest.approx(np.mean(np.abs(preds - y)))
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((preds - y) ** 2)))
    assert m["pearson"] == pytest.approx(stats.pearsonr(preds, y)[0])
    assert m["spearman"] == pytest.approx(stats.spearmanr(preds, y)[0])
    assert all(type(v) is float for v in m.values())


def test_regression_constant_predictions_are_json_safe():
    m = compute_metrics(REG, np.full((4, 1), 2.0), np.array([1.0, 2.0, 3.0, 4.0]))
    assert m["pearson"] == 0.0 and m["spearman"] == 0.0
    assert m["mse"] == pytest.approx(1.5)
    json.loads(json.dumps(m, allow_nan=False))


def test_headline_and_defaults():
    m = compute_metrics(SINGLE, LOGITS3, Y3, NAMES3)
    h = headline(m, SINGLE)
    assert "per_class" not in h and "confusion_matrix" not in h and "labels" not in h
    assert h["accuracy"] == m["accuracy"]
    assert "per_label" not in headline(compute_metrics(MULTI, ML_LOGITS, ML_LABELS), MULTI)
    assert default_metric_for_best(SINGLE) == ("f1_macro", True)
    assert default_metric_for_best(MULTI) == ("f1_micro", True)
    assert default_metric_for_best(REG) == ("pearson", True)
    # The names must be keys that compute_metrics really produces.
    assert "f1_macro" in compute_metrics(SINGLE, LOGITS3, Y3)
    assert "f1_micro" in compute_metrics(MULTI, ML_LOGITS, ML_LABELS)
    assert "pearson" in compute_metrics(REG, LOGITS3[:, :1], Y3)
    with pytest.raises(ValueError):
        default_metric_for_best("ranking")


def test_make_compute_metrics_with_eval_prediction():
    trainer_utils = pytest.importorskip("transformers.trainer_utils")
    fn = make_compute_metrics(SINGLE, NAMES3)
    # Models returning extra outputs give a tuple of arrays; logits come first.
    out = fn(trainer_utils.EvalPrediction(predictions=(LOGITS3, np.zeros((6, 4))), label_ids=Y3))
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert "per_class" not in out and not any(k.startswith("eval_") for k in out)
    json.dumps(out)
    fn = make_compute_metrics(MULTI, None)
    out = fn(trainer_utils.EvalPrediction(predictions=ML_LOGITS, label_ids=ML_LABELS))
    assert out["f1_micro"] == pytest.approx(0.8)


def test_save_metrics_roundtrip(tmp_path):
    m = compute_metrics(SINGLE, LOGITS3, Y3, NAMES3)
    path = tmp_path / "nested" / "dir" / "metrics.json"
    save_metrics(m, str(path))
    assert json.loads(path.read_text()) == m


def test_format_report():
    text = format_report(compute_metrics(SINGLE, LOGITS3, Y3, NAMES3), SINGLE)
    assert "accuracy" in text and "f1_macro" in text and "support" in text
    assert any(line.startswith("b ") for line in text.splitlines())
    assert "mse" in format_report(compute_metrics(REG, LOGITS3[:, :1], Y3), REG)
    assert "z" in format_report(compute_metrics(MULTI, ML_LOGITS, ML_LABELS, {0: "x", 1: "y", 2: "z"}), MULTI)


@pytest.mark.parametrize("normalize", [False, True])
def test_plot_confusion_matrix(tmp_path, normalize):
    m = compute_metrics(SINGLE, _one_hot_logits([0, 1, 1], 4), np.array([0, 1, 0]))
    out = str(tmp_path / "cm" / "cm.png")  # parent dir does not exist yet
    path = plot_confusion_matrix(m["confusion_matrix"], m["labels"], out, normalize)
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_MAGIC


def test_plot_curves(tmp_path):
    history = [
        {"loss": 1.2, "learning_rate": 5e-5, "epoch": 0.5, "step": 10},
        {"loss": 0.8, "learning_rate": 4e-5, "epoch": 1.0, "step": 20},
        {"eval_loss": 0.9, "eval_accuracy": 0.6, "eval_f1_macro": 0.5, "eval_runtime": 1.0, "step": 20},
        {"loss": 0.5, "epoch": 1.5, "step": 30},
        {"eval_loss": 0.7, "eval_accuracy": 0.7, "eval_f1_macro": 0.65, "eval_runtime": 1.0, "step": 40},
        {"train_runtime": 12.0, "train_loss": 0.8, "epoch": 2.0, "step": 40},
    ]
    path = plot_curves(history, str(tmp_path / "curves.png"))
    assert path is not None
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_MAGIC
    # Only train loss, no eval metrics: still one panel.
    assert plot_curves(history[:2], str(tmp_path / "loss_only.png")) is not None


def test_plot_curves_empty_returns_none(tmp_path):
    assert plot_curves([], str(tmp_path / "x.png")) is None
    assert plot_curves([{"train_runtime": 1.0, "epoch": 1.0, "step": 5}], str(tmp_path / "y.png")) is None
    assert not (tmp_path / "x.png").exists()


def test_curve_series_draws_equal_metrics_once_and_keeps_lone_points():
    """Single-label accuracy equals the micro averages at every step: one series, named after all of them."""
    history = [{"loss": 0.69, "step": 5},
               {"eval_loss": 0.6, "eval_accuracy": 0.8, "eval_f1_micro": 0.8, "eval_f1_macro": 0.7, "step": 8},
               {"eval_loss": 0.5, "eval_accuracy": 0.9, "eval_f1_micro": 0.9, "eval_f1_macro": 0.9, "step": 16}]
    losses, metrics = curve_series(history)
    assert losses == {"train loss": ([5], [0.69]), "eval loss": ([8, 16], [0.6, 0.5])}
    assert metrics == {"accuracy = f1_micro": ([8, 16], [0.8, 0.9]), "f1_macro": ([8, 16], [0.7, 0.9])}
    history[2]["eval_f1_micro"] = 0.85  # equal at one step only: two series
    assert set(curve_series(history)[1]) == {"accuracy", "f1_micro", "f1_macro"}
