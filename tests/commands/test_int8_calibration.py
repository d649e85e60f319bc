"""``swiftcls export --to onnx --onnx_quantize int8`` calibrates SmoothQuant smoothing on real rows
(swiftcls/commands/int8_calibration.py): on ``--dataset``, by default on the training rows of args.json."""

import json
import logging

import numpy as np
import pytest
import torch
from helpers import make_rows, sft, write
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from swiftcls import Classifier, ExportArguments, export_main
from swiftcls.core.errors import ConfigError, DataError
from swiftcls.data.dataset import Example

LONG = "a much longer text so that the batch is padded: " + " ".join(["alpha beta gamma delta"] * 6)


def _outlier_checkpoint(tiny_dir, folder):
    """The tiny qwen2 as a 2-label classifier whose norms emit 4 channels 100x the others, as trained decoders'
    normalised residual streams do; the readers' columns are divided back, so the float function is unchanged."""
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_dir, num_labels=2, id2label={0: "neg", 1: "pos"}, label2id={"neg": 0, "pos": 1},
        problem_type="single_label_classification", torch_dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model.config.pad_token_id = tokenizer.pad_token_id
    with torch.no_grad():
        for layer in model.model.layers:
            for norm, readers in ((layer.input_layernorm, ("q_proj", "k_proj", "v_proj")),
                                  (layer.post_attention_layernorm, ("gate_proj", "up_proj"))):
                norm.weight[:4] *= 100
                for name in readers:
                    lin = getattr(layer.self_attn if name.endswith(("q_proj", "k_proj", "v_proj")) else layer.mlp,
                                  name)
                    lin.weight[:, :4] /= 100
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_int8_smoothing_holds_planted_outlier_channels(tiny_model_dir, tmp_path, caplog):
    ckpt = _outlier_checkpoint(tiny_model_dir("qwen2"), tmp_path / "ckpt")
    rows = make_rows(24, "single")
    calib = write(tmp_path / "calib.jsonl", [{"label": "pos"}, *rows])  # a bad first row (no text)
    texts = [r["text"] for r in make_rows(16, "single", seed=3)] + [LONG]
    pt = Classifier.from_pretrained(ckpt, device="cpu")
    reference = pt.logits_rows(pt.encode([Example(t) for t in texts]))
    with caplog.at_level(logging.WARNING):
        plain = export_main({"model": ckpt, "to": "onnx", "onnx_quantize": "int8",
                             "output_dir": str(tmp_path / "plain")})
    assert "no calibration rows" in caplog.text  # no args.json, no --dataset: said, not silent
    with caplog.at_level(logging.INFO):
        smoothed = export_main({"model": ckpt, "to": "onnx", "onnx_quantize": "int8", "dataset": [calib],
                                "quant_n_samples": 16, "output_dir": str(tmp_path / "smoothed")})
    assert "int8 calibration: 16 rows" in caplog.text and "1 bad rows left out" in caplog.text
    with pytest.raises(DataError, match="no usable calibration row"):
        export_main({"model": ckpt, "to": "onnx", "onnx_quantize": "int8", "output_dir": str(tmp_path / "bad"),
                     "dataset": [write(tmp_path / "bad.jsonl", [{"label": "pos"}])]})
    assert not (tmp_path / "bad").exists()
    onnx = json.loads((tmp_path / "smoothed" / "config.json").read_text())["swiftcls_onnx"]
    assert onnx["smoothing"] == {"rows": 16, "dataset": [calib], "alpha": 0.8, "groups": 2 * 2}
    assert "smoothing" not in json.loads((tmp_path / "plain" / "config.json").read_text())["swiftcls_onnx"]
    assert "SmoothQuant-smoothed on 16 calibration rows" in (tmp_path / "smoothed" / "README.md").read_text()

    def error(folder):
        clf = Classifier.from_pretrained(folder, infer_backend="onnxruntime")
        return float(np.abs(clf.logits_rows(clf.encode([Example(t) for t in texts])) - reference).max())

    scale = float(np.abs(reference).max())
    assert error(smoothed) < 0.25 * error(plain) and error(smoothed) < 0.08 * scale


def test_training_rows_calibrate_by_default_and_an_unreadable_file_is_a_warning(tiny_model_dir, tmp_path, caplog):
    train = write(tmp_path / "train.jsonl", make_rows(32, "single"))
    ckpt = sft(["--model", str(tiny_model_dir("llama")), "--dataset", train, "--tuner_type", "lora", "--lora_rank", "4",
                "--max_steps", "1", "--output_dir", str(tmp_path / "run"), "--use_cpu", "true",
                "--eval_strategy", "no", "--save_strategy", "steps", "--save_steps", "1"])["last_model_checkpoint"]
    export_main({"adapters": ckpt, "to": "onnx", "onnx_quantize": "int8", "output_dir": str(tmp_path / "a")})
    smoothing = json.loads((tmp_path / "a" / "config.json").read_text())["swiftcls_onnx"]["smoothing"]
    assert smoothing["dataset"] == [train] and smoothing["rows"] == 32  # all 32 (fewer than --quant_n_samples)

    (tmp_path / "train.jsonl").rename(tmp_path / "moved.jsonl")
    with caplog.at_level(logging.WARNING):
        export_main({"adapters": ckpt, "to": "onnx", "onnx_quantize": "int8", "output_dir": str(tmp_path / "b")})
    assert "could not be read for calibration" in caplog.text and "--dataset" in caplog.text
    assert "smoothing" not in json.loads((tmp_path / "b" / "config.json").read_text())["swiftcls_onnx"]
    with pytest.raises(Exception, match="train.jsonl"):  # an explicit --dataset that is missing is an error
        export_main({"adapters": ckpt, "to": "onnx", "onnx_quantize": "int8", "dataset": [train],
                     "output_dir": str(tmp_path / "c")})
    assert not (tmp_path / "c").exists()


def test_calibration_flags_are_for_int8(tmp_path):
    with pytest.raises(ConfigError, match="--dataset calibrates --onnx_quantize int8"):
        ExportArguments(model="m", output_dir=str(tmp_path / "x"), to="onnx", dataset=["d.jsonl"])
    with pytest.raises(ConfigError, match="--quant_n_samples must be at least 1"):
        ExportArguments(model="m", output_dir=str(tmp_path / "x"), to="onnx", onnx_quantize="int8", quant_n_samples=0)
