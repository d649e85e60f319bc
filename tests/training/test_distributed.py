"""torchrun launching (SWIFT's NPROC_PER_NODE convention) and DDP correctness on CPU/gloo."""

import json
import os
import subprocess
import sys

import pytest
from helpers import make_rows, write

from swiftcls.cli.launch import torchrun_command


def test_torchrun_command_follows_swift_env_convention():
    assert torchrun_command(["sft"], {}) is None
    assert torchrun_command(["sft"], {"NPROC_PER_NODE": "2", "LOCAL_RANK": "0"}) is None  # already a worker
    cmd = torchrun_command(["sft", "--x", "1"], {"NPROC_PER_NODE": "8"})
    assert cmd[1:3] == ["-m", "torch.distributed.run"] and "--nproc_per_node=8" in cmd and "--standalone" in cmd
    assert cmd[-5:] == ["-m", "swiftcls", "sft", "--x", "1"]
    multi = torchrun_command(["sft"], {"NPROC_PER_NODE": "8", "NNODES": "2", "NODE_RANK": "1",
                                       "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"})
    assert {"--nnodes=2", "--node_rank=1", "--master_addr=10.0.0.1", "--master_port=29500"} <= set(multi)
    assert "--standalone" not in multi


# sitecustomize for the launched workers: local rank 0 sleeps before building the rows and the tokens stages.
SLOW_RANK0 = """
import os
import sys
import time

if os.environ.get("LOCAL_RANK") == "0":
    from swiftcls.commands import prepared

    def _late(build):
        def late(*args, **kwargs):
            print("rank 0 prepares late", file=sys.stderr, flush=True)
            time.sleep(4)
            return build(*args, **kwargs)
        return late

    prepared._build_rows = _late(prepared._build_rows)
    prepared.tokenize = _late(prepared.tokenize)
"""


def _losses(out):
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    return [e["loss"] for e in state["log_history"] if "loss" in e]


@pytest.mark.slow
def test_ddp_two_processes_match_one_process_on_the_same_global_batch(tiny_model_dir, tmp_path):
    data = write(tmp_path / "train.jsonl", make_rows(96, "single"))
    common = ["sft", "--model", str(tiny_model_dir("qwen2")), "--dataset", data, "--tuner_type", "full",
              "--max_steps", "6", "--logging_steps", "1", "--learning_rate", "1e-3", "--warmup_ratio", "0",
              "--use_cpu", "true", "--train_sampling_strategy", "sequential"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("NPROC_PER_NODE", None)
    one = subprocess.run([sys.executable, "-m", "swiftcls", *common, "--per_device_train_batch_size", "8",
                          "--output_dir", str(tmp_path / "one"), "--dataset_cache_dir", str(tmp_path / "cache1")],
                         env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-3000:]
    # Rank 0 starts each preparation stage late: without the per-node barrier, rank 1 would find no cache and
    # read and tokenize the rows itself (seen failing with main_process_first removed from commands/sft.py).
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_RANK0)
    path = os.pathsep.join([str(hook), env.get("PYTHONPATH", "")])
    two = subprocess.run([sys.executable, "-m", "swiftcls", *common, "--per_device_train_batch_size", "4",
                          "--output_dir", str(tmp_path / "two"), "--dataset_cache_dir", str(tmp_path / "cache2")],
                         env={**env, "NPROC_PER_NODE": "2", "PYTHONPATH": path}, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "world size 2" in two.stderr
    assert two.stderr.count("rank 0 prepares late") == 2, two.stderr[-3000:]  # the hook ran, in both stages
    # One process read and tokenized the rows; the other opened its cache (rows, then tokens).
    assert two.stderr.count("read 96 rows") == two.stderr.count("tokenized 96 rows") == 1, two.stderr[-3000:]
    assert two.stderr.count("data cache hit: ") == 2
    assert sorted(p.split("-")[0] for p in os.listdir(tmp_path / "cache2")) == ["rows", "tokens"]
    one_losses, two_losses = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(one_losses) == len(two_losses) == 6
    # The logged loss is the true mean loss (not multiplied by the process count) and follows the same curve.
    assert two_losses == pytest.approx(one_losses, rel=2e-3)
    assert not (tmp_path / "two" / "checkpoint-6" / "args.json.tmp").exists()
