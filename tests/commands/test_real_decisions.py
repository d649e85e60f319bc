"""Tuned thresholds and calibration on real data: GoEmotions (28 labels, multi-label) with all-MiniLM-L6-v2.

The dev file is cut in two: its first 200 rows are sft's validation rows (temperature and thresholds fitted there),
the next 200 are held out and scored with ``swiftcls eval``. Small on purpose (CI); the larger study is
benchmarks/calibration_study.py (docs/benchmarks.md).
"""

import json
import shutil

import pytest

from swiftcls import eval_main, sft_main
from swiftcls.core.decisions import CALIBRATION_KEY, write_decisions

pytestmark = pytest.mark.slow


def test_goemotions_tuned_thresholds_beat_0_5_and_calibration_lowers_ece(shared, minilm_dir, tmp_path):
    header, *lines = (shared / "data/goemotions/dev.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    val, held_out = tmp_path / "val.tsv", tmp_path / "held_out.tsv"
    val.write_text(header + "".join(lines[:200]), encoding="utf-8")
    held_out.write_text(header + "".join(lines[200:400]), encoding="utf-8")
    summary = sft_main(["--model", str(minilm_dir), "--dataset", f"{shared}/data/goemotions/train.tsv#160",
                        "--val_dataset", str(val), "--labels", f"{shared}/data/goemotions/labels.txt",
                        "--problem_type", "multi_label_classification", "--tuner_type", "full",
                        "--learning_rate", "1e-4", "--num_train_epochs", "1", "--max_length", "32",
                        "--per_device_train_batch_size", "16", "--save_strategy", "no", "--use_cpu", "true",
                        "--disable_tqdm", "true", "--output_dir", str(tmp_path / "run")])
    ckpt = summary["decisions_checkpoint"]
    held = eval_main(["--model", ckpt, "--dataset", str(held_out), "--device", "cpu",
                      "--metrics_path", str(tmp_path / "m.json")])["metrics"]
    block = held["thresholds"]
    # Measured (2026-11-30): macro-F1 0.001 at 0.5 (almost no probability reaches it), 0.052 at the tuned thresholds.
    assert block["f1_macro_tuned"] > 0.02 and block["f1_macro_tuned"] > 5 * block["f1_macro_at_0.5"]
    assert held["f1_macro"] == block["f1_macro_tuned"]  # eval decides with the saved thresholds

    raw = tmp_path / "raw"  # the same weights without the temperature
    shutil.copytree(ckpt, raw)
    write_decisions(raw, {CALIBRATION_KEY: None})
    assert CALIBRATION_KEY not in json.loads((raw / "config.json").read_text())
    uncalibrated = eval_main(["--model", str(raw), "--dataset", str(held_out), "--device", "cpu",
                              "--metrics_path", str(tmp_path / "raw.json")])["metrics"]
    # Measured (2026-11-30): ECE 0.434 -> 0.021, Brier 0.231 -> 0.042 on the held-out rows.
    assert held["ece"] < uncalibrated["ece"] / 3 and held["brier"] < uncalibrated["brier"]
