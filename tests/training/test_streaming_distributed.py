"""--streaming under torchrun (2 processes, CPU/gloo): each process trains on its own rows of the one seeded stream,
and the loss curve equals one process on the same global batch."""

import json
import os
import subprocess
import sys

import pytest
from helpers import make_rows, write


def _losses(out):
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    return [e["loss"] for e in state["log_history"] if "loss" in e]


@pytest.mark.heavy  # two torchrun launches: ~1 min on 2 cores; run with -m heavy (docs/benchmarks.md)
@pytest.mark.parametrize("padding_free", ["false", "true"])
def test_streaming_two_processes_match_one_process(tiny_model_dir, tmp_path, padding_free):
    data = write(tmp_path / "train.jsonl", make_rows(40, "single"))  # 40 rows: the stream is read twice (epochs)
    common = ["sft", "--model", str(tiny_model_dir("qwen2")), "--dataset", data, "--tuner_type", "full",
              "--max_steps", "6", "--logging_steps", "1", "--learning_rate", "1e-3", "--warmup_ratio", "0",
              "--use_cpu", "true", "--streaming", "true", "--shuffle_buffer_size", "16",
              "--padding_free", padding_free, "--save_strategy", "steps", "--save_steps", "6"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NPROC_PER_NODE", None)
    one = subprocess.run([sys.executable, "-m", "swiftcls", *common, "--per_device_train_batch_size", "8",
                          "--output_dir", str(tmp_path / "one")], env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "swiftcls", *common, "--per_device_train_batch_size", "4",
                          "--output_dir", str(tmp_path / "two")], env={**env, "NPROC_PER_NODE": "2"},
                         capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "world size 2" in two.stderr
    one_losses, two_losses = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(one_losses) == len(two_losses) == 6
    assert two_losses == pytest.approx(one_losses, rel=2e-3)
