"""Per-label threshold tuning, temperature scaling, ECE / Brier and the decision fields, on hand-made numbers."""

import json

import numpy as np
import pytest
from scipy.special import expit, softmax

from swiftcls.core.decisions import CALIBRATION_KEY, THRESHOLDS_KEY, read_decisions, thresholds_for, write_decisions
from swiftcls.core.errors import ConfigError
from swiftcls.core.labels import MULTI, SINGLE
from swiftcls.metrics.calibration import brier, calibration_report, ece, fit_temperature, reliability
from swiftcls.metrics.thresholds import threshold_report, tune_thresholds


def f1_score(y, pred, zero_division=0):
    """Binary F1 in numpy (sklearn's is 100x slower per call, and the brute force calls it hundreds of times)."""
    tp = int((y.astype(bool) & pred).sum())
    denom = int(y.sum() + pred.sum())
    return 2 * tp / denom if denom else zero_division


def test_tuned_threshold_reaches_the_best_f1_of_any_threshold():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 3)) < [0.3, 0.1, 0.5]).astype(int)
    probs = np.clip(0.15 + 0.2 * y + rng.normal(0, 0.12, y.shape), 0, 1)  # never reaches 0.5 for most rows
    thresholds, tuned = tune_thresholds(probs, y)
    assert tuned.all()
    for j in range(3):
        best = max(f1_score(y[:, j], probs[:, j] >= t, zero_division=0) for t in np.unique(probs[:, j]))
        assert f1_score(y[:, j], probs[:, j] >= thresholds[j]) == pytest.approx(best)
    report = threshold_report(probs, y, thresholds, ["a", "b", "c"], tuned)
    assert report["f1_macro_tuned"] > report["f1_macro_at_0.5"]


def test_threshold_sits_between_the_kept_and_the_next_lower_probability():
    probs = np.array([[0.9], [0.4], [0.35], [0.3], [0.2], [0.1]])
    y = np.array([[1], [1], [1], [1], [1], [0]])
    thresholds, _ = tune_thresholds(probs, y)
    assert thresholds[0] == pytest.approx((0.2 + 0.1) / 2)  # 5 of 5 positives, the negative left out


def test_labels_with_too_few_positives_keep_the_global_threshold():
    probs = np.array([[0.2, 0.3]] * 10)
    y = np.zeros((10, 2), dtype=int)
    y[:6, 0], y[:2, 1] = 1, 1
    probs[:6, 0] = 0.4
    thresholds, tuned = tune_thresholds(probs, y, default=0.42, min_positives=5)
    assert tuned.tolist() == [True, False]
    assert thresholds[1] == 0.42 and 0.3 < thresholds[0] <= 0.4


def test_temperature_recovers_the_scale_of_overconfident_logits():
    rng = np.random.default_rng(1)
    true = rng.normal(0, 1.5, (4000, 3))
    y = np.array([rng.choice(3, p=p) for p in softmax(true, axis=1)])
    temperature = fit_temperature(true * 2.5, y, SINGLE)  # logits 2.5x too sharp
    assert temperature == pytest.approx(np.full(3, 2.5), rel=0.08)
    report = calibration_report(true * 2.5, y, SINGLE, temperature)
    assert report["ece_after"] < report["ece_before"] / 2 and report["brier_after"] < report["brier_before"]


def test_multi_label_temperature_is_per_label_and_rare_labels_share_the_pooled_one():
    rng = np.random.default_rng(2)
    true = rng.normal(-1, 1.5, (3000, 3))
    y = (rng.random(true.shape) < expit(true)).astype(int)
    y[:, 2] = 0
    y[:2, 2] = 1  # two positives: too few for its own temperature
    temperature = fit_temperature(true * [0.5, 3.0, 1.0], y, MULTI)
    assert temperature[0] == pytest.approx(0.5, rel=0.1) and temperature[1] == pytest.approx(3.0, rel=0.1)
    pooled = fit_temperature(true * [0.5, 3.0, 1.0], y, MULTI, min_positives=10 ** 9)
    assert temperature[2] == pytest.approx(pooled[2])


def test_ece_and_brier_by_hand():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    y = np.array([0, 1, 1, 1])
    # top confidences 0.9 (right), 0.8 (wrong), 0.7 (right), 0.6 (wrong); 15 bins: each in its own bin
    assert ece(probs, y, SINGLE) == pytest.approx((0.1 + 0.8 + 0.3 + 0.6) / 4)
    assert brier(probs, y, SINGLE) == pytest.approx((0.02 + 1.28 + 0.18 + 0.72) / 4)
    multi = np.array([[0.9, 0.2]])
    assert brier(multi, np.array([[1, 1]]), MULTI) == pytest.approx((0.01 + 0.64) / 2)
    assert sum(reliability(probs, y, SINGLE)["count"]) == 4


def test_decision_fields_are_checked_and_name_the_file_and_field():
    names = ["red", "blue"]
    with pytest.raises(ConfigError, match=r"cfg.json: field 'swiftcls_thresholds.red': 1.5"):
        read_decisions({THRESHOLDS_KEY: {"red": 1.5}}, names, "cfg.json")
    with pytest.raises(ConfigError, match=r"cfg.json: .*labels the model does not have: \['green'\]"):
        read_decisions({THRESHOLDS_KEY: {"green": 0.2}}, names, "cfg.json")
    with pytest.raises(ConfigError, match=r"cfg.json: field 'swiftcls_calibration.temperature': 0"):
        read_decisions({CALIBRATION_KEY: {"method": "temperature", "temperature": 0}}, names, "cfg.json")
    d = read_decisions({THRESHOLDS_KEY: {"red": 0.2},
                        CALIBRATION_KEY: {"method": "temperature", "temperature": {"red": 2, "blue": 0.5}}},
                       names, "cfg.json")
    assert d.temperature == [2.0, 0.5] and not d.folded
    train = {"threshold": 0.4, THRESHOLDS_KEY: {"red": 0.2}}
    assert thresholds_for(train, names) == [0.2, 0.4]
    assert thresholds_for(train, names, override=0.7) == [0.7, 0.7]


def test_write_decisions_changes_only_its_fields(tmp_path):
    config = {"architectures": ["X"], "id2label": {"0": "a"}, "user_note": "mine"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "args.json").write_text("{}")
    path = write_decisions(tmp_path, {THRESHOLDS_KEY: {"a": 0.3}})
    assert path.name == "config.json"  # a full checkpoint's decisions go to config.json, not args.json
    assert json.loads(path.read_text()) == {**config, THRESHOLDS_KEY: {"a": 0.3}}
    assert json.loads((tmp_path / "args.json").read_text()) == {}
    assert [p.name for p in tmp_path.iterdir()].count("config.json.tmp") == 0


def test_a_temperature_at_the_edge_of_its_search_range_is_logged_as_a_warning(caplog):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    chance = rng.normal(0, 2.0, (400, 2))  # logits that say nothing about the labels: T runs to its upper bound
    with caplog.at_level("WARNING", logger="swiftcls.metrics.calibration"):
        temperature = fit_temperature(chance, y, SINGLE)
    assert temperature[0] > 90
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "upper bound" in warned[0].getMessage() and "--calibrate none" in warned[0].getMessage()

    caplog.clear()
    true = rng.normal(0, 1.5, (400, 2))
    informative = np.array([rng.choice(2, p=p) for p in softmax(true, axis=1)])
    with caplog.at_level("WARNING", logger="swiftcls.metrics.calibration"):
        fit_temperature(true * 2.0, informative, SINGLE)  # an ordinary fit, well inside the range: no warning
    assert not [r for r in caplog.records if r.levelname == "WARNING"]

    multi = (rng.random((400, 2)) < 0.5).astype(int)
    with caplog.at_level("WARNING", logger="swiftcls.metrics.calibration"):
        fit_temperature(np.stack([chance[:, 0], true[:, 0] * 2.0], axis=1), multi, MULTI, names=["spam", "ham"])
    assert any("'spam'" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
