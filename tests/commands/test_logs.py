"""What a user reads: a tiny LoRA sft and its export print no alarming noise, and sft names its new head once."""

import logging
import warnings

from helpers import make_rows, write

from swiftcls.cli.main import main

NOISE = ("LOAD REPORT", "newly initialized", "MISSING", "is_gradient_checkpointing")


def test_sft_and_export_say_new_head_once_and_nothing_alarming(tiny_model_dir, tmp_path, capfd, caplog,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO)
    train = write(tmp_path / "train.jsonl", make_rows(16, "single", seed=0))
    capfd.readouterr()  # what building the tiny model printed
    outputs = []
    for argv in (["sft", "--model", str(tiny_model_dir("qwen2")), "--dataset", train, "--tuner_type", "lora",
                  "--max_steps", "1", "--per_device_train_batch_size", "16", "--output_dir", "run", "--use_cpu",
                  "true", "--eval_strategy", "no"],
                 ["export", "--adapters", "run/checkpoint-1", "--output_dir", "merged"]):
        caplog.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert main(argv) == 0
        out, err = capfd.readouterr()
        outputs.append(out + err + caplog.text + "".join(str(w.message) for w in caught))
    sft, export = outputs
    assert sft.count("new classification head: score (2 labels)") == 1, sft
    assert "new classification head" not in export, export
    for noise in NOISE:
        assert noise not in sft and noise not in export, (noise, sft, export)


def test_deepspeeds_cpu_fallback_warning_is_dropped():
    """DeepSpeed warns once per process, at its first import, that it found no GPU; the CLI drops that record."""
    assert main(["sft", "--datset", "x"]) == 2
    record = logging.LogRecord("DeepSpeed", logging.WARNING, "real_accelerator.py", 213, "Setting accelerator to CPU. "
                               "If you have GPU or other accelerator, we were unable to detect it.", None, None)
    other = logging.LogRecord("DeepSpeed", logging.WARNING, "x.py", 1, "ZeRO stage 3 needs ...", None, None)
    assert not logging.getLogger("DeepSpeed").filter(record) and logging.getLogger("DeepSpeed").filter(other)
