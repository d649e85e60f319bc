"""Tuned thresholds and calibration from sft through the checkpoint, export, infer/eval, Classifier and deploy.

Tiny BERT runs (one epoch, validation rows), trained once per module: multi-label full fine-tuning and single-label
LoRA. The reference numbers come from plain transformers on the sft checkpoint and the temperature in its files.
"""

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from helpers import make_rows, write
from scipy.special import expit, softmax
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from swiftcls import DeployArguments, eval_main, export_main, infer_main, sft_main
from swiftcls.core.decisions import CALIBRATION_KEY, THRESHOLDS_KEY
from swiftcls.core.errors import ConfigError
from swiftcls.inference.classifier import Classifier
from swiftcls.serve.app import create_app

TEXTS = ["alpha beta red", "gamma blue thing", "omega red blue", "kappa sigma", "theta good thing",
         "delta bad thing"]


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    """``get(kind) -> (root, summary)``: a tiny trained run with validation rows, built once."""
    cache = {}

    def get(kind, tuner):
        if kind not in cache:
            root = tmp_path_factory.mktemp(f"decisions-{kind}")
            train = write(root / "train.jsonl", make_rows(32, kind))
            val = write(root / "val.jsonl", make_rows(32, kind, seed=1))
            cache[kind] = root, sft_main([
                "--model", str(tiny_model_dir("bert")), "--dataset", train, "--val_dataset", val,
                "--output_dir", str(root / "run"), "--tuner_type", tuner, "--num_train_epochs", "1",
                "--learning_rate", "5e-3", "--per_device_train_batch_size", "8", "--use_cpu", "true",
                "--save_strategy", "no",
                "--disable_tqdm", "true"])
        return cache[kind]

    return get


def vllm_client():
    spec = importlib.util.spec_from_file_location("vllm_client", Path(__file__).parents[2] / "examples/vllm_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plain_logits(folder, texts=TEXTS):
    """Logits of plain transformers (no swiftcls code) for raw texts."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.double().numpy()


def test_multi_label_thresholds_and_temperature_reach_every_consumer(runs, tmp_path):
    root, summary = runs("multi", "full")
    ckpt = Path(summary["last_model_checkpoint"])
    assert summary["decisions_checkpoint"] == str(ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    names = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    tuned, cal = config[THRESHOLDS_KEY], config[CALIBRATION_KEY]
    assert set(tuned) == set(names) and cal["folded_into_head"] is False
    temperature = np.array([cal["temperature"][n] for n in names])
    assert np.abs(temperature - 1).max() > 1e-3  # a real rescaling, so the checks below mean something
    thresholds = np.array([tuned[n] for n in names])
    assert np.abs(thresholds - 0.5).max() > 1e-3
    metrics = summary["metrics"]
    assert metrics["thresholds"]["f1_macro_tuned"] >= metrics["thresholds"]["f1_macro_at_0.5"]
    assert metrics["calibration"]["ece_after"] <= metrics["calibration"]["ece_before"] + 1e-9
    assert (root / "run" / "reliability.png").is_file()

    expected = expit(plain_logits(ckpt) / temperature)  # what the calibrated checkpoint must score
    want = [[n for n, p, t in zip(names, row, thresholds) if p >= t] for row in expected]

    out = export_main(["--model", str(ckpt), "--output_dir", str(tmp_path / "export")])
    exported = json.loads((Path(out) / "config.json").read_text())
    assert exported[THRESHOLDS_KEY] == tuned and exported[CALIBRATION_KEY]["folded_into_head"] is True
    assert THRESHOLDS_KEY not in json.loads((Path(out) / "args.json").read_text())
    np.testing.assert_allclose(expit(plain_logits(out)), expected, atol=1e-5)  # folded head == calibrated probs
    client = vllm_client()  # the example client applies the tuned thresholds vLLM ignores
    settings = client.load_settings(out)
    assert settings["thresholds"] == [tuned[n] for n in names]
    assert client.predictions({"data": [{"probs": row.tolist()} for row in expected]}, settings) == want
    card = (Path(out) / "README.md").read_text()
    assert "| label | threshold |" in card and f"| {names[0]} | {tuned[names[0]]:.4f} |" in card

    for folder in (ckpt, out):
        clf = Classifier.from_pretrained(str(folder), device="cpu")
        np.testing.assert_allclose(clf.predict_proba(TEXTS), expected, atol=1e-5)
        assert clf.predict(TEXTS) == want
    forced = Classifier.from_pretrained(out, device="cpu", threshold=0.5)  # --threshold overrides the tuned ones
    assert forced.predict(TEXTS) == [[n for n, p in zip(names, row) if p >= 0.5] for row in expected]

    data = write(tmp_path / "rows.jsonl", [{"text": t} for t in TEXTS])
    result = infer_main(["--model", out, "--dataset", data, "--result_path", str(tmp_path / "r.jsonl"),
                         "--device", "cpu"])
    assert [json.loads(line)["pred"] for line in open(result["result_path"])] == want
    infer_main(["--model", out, "--dataset", data, "--result_path", str(tmp_path / "r1.jsonl"), "--device", "cpu",
                "--threshold", "1.0"])
    assert all(json.loads(line)["pred"] == [] for line in open(tmp_path / "r1.jsonl"))

    args = DeployArguments(model=out, port=0, device="cpu")
    with TestClient(create_app(Classifier.from_args(args), args, "tiny")) as client:
        answer = client.post("/classify", json={"input": TEXTS}).json()
    assert [item["pred"] for item in answer["data"]] == want
    np.testing.assert_allclose([item["probs"] for item in answer["data"]], expected, atol=1e-5)

    with pytest.raises(ConfigError, match="Export it first"):  # vLLM would score the unfolded head
        infer_main(["--model", str(ckpt), "--dataset", data, "--infer_backend", "vllm"])


def test_eval_tunes_thresholds_and_saves_only_that_field(runs, tmp_path):
    root, summary = runs("multi", "full")
    ckpt = tmp_path / "ckpt"
    shutil.copytree(summary["last_model_checkpoint"], ckpt)
    before = json.loads((ckpt / "config.json").read_text())
    data = write(tmp_path / "dev.jsonl", make_rows(40, "multi", seed=5))
    result = eval_main(["--model", str(ckpt), "--dataset", data, "--device", "cpu", "--tune_thresholds",
                        "--save_thresholds", "--metrics_path", str(tmp_path / "m.json")])
    block = result["metrics"]["thresholds"]
    assert block["model_thresholds"] == {k: round(v, 6) for k, v in before[THRESHOLDS_KEY].items()}
    assert block["f1_macro_tuned"] >= block["f1_macro_model"]
    assert {"f1_macro_at_0.5", "f1_micro_at_0.5", "f1_micro_tuned"} <= set(block)
    assert "ece" in result["metrics"] and "brier" in result["metrics"]
    after = json.loads((ckpt / "config.json").read_text())
    assert after[THRESHOLDS_KEY] == {k: v for k, v in block["thresholds"].items()
                                     if k not in block["thresholds_kept_default"]}
    assert {k: v for k, v in after.items() if k != THRESHOLDS_KEY} == {
        k: v for k, v in before.items() if k != THRESHOLDS_KEY}
    with pytest.raises(ConfigError, match="--save_thresholds saves what --tune_thresholds tunes"):
        eval_main(["--model", str(ckpt), "--dataset", data, "--save_thresholds"])


def test_single_label_lora_export_gives_the_calibrated_probabilities(runs, tmp_path):
    _, summary = runs("single", "lora")
    ckpt = Path(summary["last_model_checkpoint"])
    cal = json.loads((ckpt / "args.json").read_text())[CALIBRATION_KEY]  # LoRA checkpoints have no config.json
    assert not (ckpt / "config.json").exists() and cal["folded_into_head"] is False
    assert abs(cal["temperature"] - 1) > 1e-3
    clf = Classifier.from_pretrained(adapters=str(ckpt), device="cpu")
    out = export_main(["--adapters", str(ckpt), "--output_dir", str(tmp_path / "export")])
    exported = softmax(plain_logits(out), axis=1)
    np.testing.assert_allclose(exported, clf.predict_proba(TEXTS), atol=1e-5)
    assert json.loads((Path(out) / "config.json").read_text())[CALIBRATION_KEY] == {**cal, "folded_into_head": True}
    raw = plain_peft_logits(json.loads((ckpt / "args.json").read_text())["model_dir"], ckpt)
    np.testing.assert_allclose(exported, softmax(raw / cal["temperature"], axis=1), atol=1e-5)


def plain_peft_logits(base, adapters, texts=TEXTS):
    """Logits of the base model with the LoRA checkpoint, by plain transformers + peft (no temperature)."""
    from peft import PeftModel

    tokenizer = AutoTokenizer.from_pretrained(adapters)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2)
    model = PeftModel.from_pretrained(model, str(adapters)).eval()
    with torch.no_grad():
        return model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.double().numpy()


def test_no_calibration_and_global_threshold_write_nothing(tiny_model_dir, tmp_path):
    train = write(tmp_path / "t.jsonl", make_rows(16, "multi"))
    summary = sft_main(["--model", str(tiny_model_dir("bert")), "--dataset", train, "--val_dataset", train,
                        "--output_dir", str(tmp_path / "run"), "--tuner_type", "full", "--max_steps", "1",
                        "--use_cpu", "true", "--calibrate", "none", "--threshold_strategy", "global",
                        "--threshold", "0.4", "--disable_tqdm", "true"])
    config = json.loads((Path(summary["last_model_checkpoint"]) / "config.json").read_text())
    assert THRESHOLDS_KEY not in config and CALIBRATION_KEY not in config and "decisions_checkpoint" not in summary
    assert set(summary["metrics"]["thresholds"]["thresholds"].values()) == {0.4}
