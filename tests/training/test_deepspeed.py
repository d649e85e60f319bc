"""DeepSpeed ZeRO on CPU/gloo with 2 processes: same loss curve as 1 process, sharding, saving, resume, 2 nodes.

Every launched run uses the tiny Qwen2 (or tiny Qwen2-VL) model and a few steps; see DEVELOPERS.md for the
CPU traps (DS_ACCELERATOR=cpu, gloo, the one-off JIT build of DeepSpeed's shared-memory op).
"""

import json
import os
import re
import socket
import subprocess
import sys

import pytest
from helpers import logged_losses, make_rows, sft, write
from safetensors import safe_open

from swiftcls.config.deepspeed import SHIPPED, deepspeed_on_cpu, prepare_deepspeed, resolve_deepspeed, zero_stage
from swiftcls.core.errors import ConfigError

pytest.importorskip("deepspeed")  # a base dependency (requirements/base.txt)

STEPS = ["--max_steps", "6", "--logging_steps", "1", "--learning_rate", "1e-3", "--warmup_ratio", "0",
         "--use_cpu", "true", "--train_sampling_strategy", "sequential",
         "--tuner_type", "full"]


def test_shipped_configs_leave_sizes_clipping_and_precision_to_the_flags(tmp_path, caplog):
    for name in SHIPPED:
        config = json.loads(open(resolve_deepspeed(name), encoding="utf-8").read())
        for key in ("train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps",
                    "gradient_clipping"):
            assert config[key] == "auto", (name, key)
        assert config["bf16"]["enabled"] == config["fp16"]["enabled"] == "auto"
        # Offload needs DeepSpeed's CPU Adam; without offload Trainer's AdamW (and --head_lr groups) is used.
        assert ("optimizer" in config) == name.endswith("_offload")
        assert zero_stage(resolve_deepspeed(name)) == int(name[4])
    assert json.loads(open(resolve_deepspeed("zero3")).read())["zero_optimization"][
        "stage3_gather_16bit_weights_on_model_save"] is True
    own = write(tmp_path / "ds.json", [{"zero_optimization": {"stage": 2}}])
    assert resolve_deepspeed(own) == own and resolve_deepspeed(None) is None
    shards_only = write(tmp_path / "z3.json", [{"zero_optimization": {"stage": 3}}])
    assert resolve_deepspeed(shards_only) == shards_only and "zero_to_fp32.py" in caplog.text
    with pytest.raises(ConfigError, match="zero2, zero3, zero2_offload, zero3_offload"):
        resolve_deepspeed("zero4")
    (tmp_path / "bad.json").write_text("{stage: 3}")
    with pytest.raises(ConfigError, match="not valid JSON"):
        resolve_deepspeed(str(tmp_path / "bad.json"))


def test_one_cpu_decision_for_deepspeed_and_training_arguments(monkeypatch):
    monkeypatch.delenv("DS_ACCELERATOR", raising=False)
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert not deepspeed_on_cpu(False) and deepspeed_on_cpu(True)
    monkeypatch.setenv("DS_ACCELERATOR", "cpu")  # a CPU run on a GPU machine (DEVELOPERS.md)
    assert deepspeed_on_cpu(False)
    monkeypatch.delenv("DS_ACCELERATOR")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)  # no GPU: CPU without being told
    assert deepspeed_on_cpu(False)
    assert prepare_deepspeed(None, False) is False and prepare_deepspeed(None, True) is True  # no DeepSpeed: as given


LAUNCH_VARS = ("NPROC_PER_NODE", "NNODES", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK", "RANK",
               "WORLD_SIZE")


def _env(**extra):
    """This environment without launcher variables, plus ``extra``; DeepSpeed on its CPU accelerator."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    return {**env, "OMP_NUM_THREADS": "1", "DS_ACCELERATOR": "cpu", **extra}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(argv, **env):
    """``swiftcls sft argv`` re-launched by SWIFT's environment convention; returns the combined log."""
    run = subprocess.run([sys.executable, "-m", "swiftcls", "sft", *argv], env=_env(**env), capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-4000:]
    return run.stdout + run.stderr


def _weights(path):
    with safe_open(str(path), "pt") as f:
        return {k: f.get_tensor(k).float() for k in f.keys()}


@pytest.fixture(scope="module")
def one_process(tiny_model_dir, tmp_path_factory):
    """The reference: 1 process, batch 8, 6 steps (in-process, no DeepSpeed)."""
    folder = tmp_path_factory.mktemp("ds-one")
    data = write(folder / "train.jsonl", make_rows(96, "single"))
    model = str(tiny_model_dir("qwen2"))
    sft(["--model", model, "--dataset", data, *STEPS, "--per_device_train_batch_size", "8",
         "--output_dir", str(folder / "one")])
    return {"model": model, "data": data, "out": folder / "one"}


def test_zero3_shards_matches_one_process_saves_full_weights_and_resumes(one_process, tmp_path):
    from swiftcls import ExportArguments, ModelArguments, export_main
    from swiftcls.models.trained import load_trained

    common = ["--model", one_process["model"], "--dataset", one_process["data"], *STEPS,
              "--per_device_train_batch_size", "4", "--deepspeed", "zero3"]
    out = tmp_path / "z3"
    log = _launch([*common, "--output_dir", str(out), "--save_strategy", "steps", "--save_steps", "3"],
                  NPROC_PER_NODE="2")
    assert "world size 2" in log
    # Each rank holds about half of every partitioned tensor (never the full model).
    held = re.findall(r"ZeRO-3 rank (\d) holds (\d+) of (\d+) parameter elements \((\d+) tensors", log)
    assert sorted(r for r, *_ in held) == ["0", "1"]
    for _, local, total, tensors in held:
        assert int(tensors) > 0 and int(local) < 0.55 * int(total)
    reference = logged_losses(one_process["out"])
    assert logged_losses(out) == pytest.approx(reference, rel=2e-3)

    # The checkpoint holds full (gathered) weights, head included, equal to the 1-process run's.
    ref, got = _weights(one_process["out"] / "checkpoint-6" / "model.safetensors"), \
        _weights(out / "checkpoint-6" / "model.safetensors")
    assert set(got) == set(ref) and "score.weight" in got
    for key, tensor in ref.items():
        assert got[key].shape == tensor.shape and (got[key] - tensor).abs().max() < 1e-4, key
    load_trained(str(out / "checkpoint-6"), None, ModelArguments(torch_dtype="float32"), device="cpu")
    export_main(ExportArguments(model=str(out / "checkpoint-6"), torch_dtype="float32",
                                output_dir=str(tmp_path / "export")))
    assert _weights(tmp_path / "export" / "model.safetensors")["score.weight"].shape == ref["score.weight"].shape

    # Resuming from the ZeRO checkpoint at step 3 continues exactly like the uninterrupted run. The resumed run
    # uses a ZeRO-3 config of its own that saves shards only: infer refuses those and names the fix.
    config = json.loads(open(resolve_deepspeed("zero3")).read())
    config["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] = False
    own = write(tmp_path / "shards_only.json", [config])
    resumed = tmp_path / "resumed"
    _launch([*common[:-1], own, "--output_dir", str(resumed), "--resume_from_checkpoint", str(out / "checkpoint-3")],
            NPROC_PER_NODE="2")
    assert logged_losses(resumed)[3:] == pytest.approx(logged_losses(out)[3:], rel=1e-5)
    shards = resumed / "checkpoint-6"
    with pytest.raises(ConfigError, match="zero_to_fp32.py"):
        load_trained(str(shards), None, ModelArguments(torch_dtype="float32"), device="cpu")
    subprocess.run([sys.executable, str(shards / "zero_to_fp32.py"), str(shards), str(shards), "--safe_serialization"],
                   check=True, capture_output=True)
    consolidated = _weights(shards / "model.safetensors")
    for key, tensor in _weights(out / "checkpoint-6" / "model.safetensors").items():
        assert (consolidated[key] - tensor).abs().max() < 1e-5, key
    load_trained(str(shards), None, ModelArguments(torch_dtype="float32"), device="cpu")


def test_zero2_on_two_simulated_nodes_matches_one_process(one_process, tmp_path):
    # Two torchrun invocations on 127.0.0.1: node 0 by SWIFT's env convention, node 1 by plain torchrun.
    out, port = tmp_path / "z2", str(_free_port())
    argv = ["--model", one_process["model"], "--dataset", one_process["data"], *STEPS,
            "--per_device_train_batch_size", "4", "--deepspeed", "zero2", "--output_dir", str(out)]
    node0 = subprocess.Popen([sys.executable, "-m", "swiftcls", "sft", *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             env=_env(NNODES="2", NODE_RANK="0", NPROC_PER_NODE="1", MASTER_ADDR="127.0.0.1",
                                      MASTER_PORT=port))
    node1 = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node_rank", "1",
                            "--nproc_per_node", "1", "--master_addr", "127.0.0.1", "--master_port", port,
                            "-m", "swiftcls", "sft", *argv], env=_env(), capture_output=True, text=True)
    log0 = node0.communicate()[0]
    assert node0.returncode == 0 and node1.returncode == 0, (log0[-3000:], node1.stderr[-3000:])
    assert "--nnodes=2 --node_rank=0" in log0 and "world size 2" in log0 and "world size 2" in node1.stderr
    # Only global rank 0 (node 0) reports and writes the run files.
    assert "last_model_checkpoint" in log0 and "last_model_checkpoint" not in node1.stdout
    assert logged_losses(out) == pytest.approx(logged_losses(one_process["out"]), rel=2e-3)


def test_lora_zero3_bf16_trains_evaluates_and_saves_adapters_and_head(one_process, tmp_path):
    from swiftcls import InferArguments, infer_main

    # With a validation set: evaluation each epoch, best checkpoint reloaded at the end, final report. Launched as
    # SWIFT users do on a CPU machine: DS_ACCELERATOR=cpu NPROC_PER_NODE=2, and no --use_cpu (the DeepSpeed CPU
    # decision sets it; before, TrainingArguments refused --bf16 "without GPU", and without --bf16 it counted a world
    # of 1 and zero.Init failed on train_batch_size).
    out = tmp_path / "lora"
    log = _launch(["--model", one_process["model"], "--dataset", one_process["data"], "--tuner_type", "lora",
                   "--val_dataset", one_process["data"],
                   "--max_steps", "12", "--learning_rate", "1e-2", "--warmup_ratio", "0", "--logging_steps", "2",
                   "--per_device_train_batch_size", "8", "--deepspeed", "zero3", "--bf16", "true",
                   "--torch_dtype", "bfloat16", "--output_dir", str(out)], NPROC_PER_NODE="2")
    assert "world size 2" in log and json.loads((out / "args.json").read_text())["use_cpu"] is True
    assert json.loads((out / "eval_metrics.json").read_text())["accuracy"] > 0.9
    ckpt = out / "checkpoint-12"
    saved = _weights(ckpt / "adapter_model.safetensors")
    head = [k for k in saved if k.endswith("score.weight")]
    assert len(head) == 1 and saved[head[0]].shape == (2, 32)  # the head in full, not a 0-element shard
    lora_b = [t for k, t in saved.items() if "lora_B" in k]
    assert lora_b and all(t.numel() > 0 for t in saved.values()) and any(t.abs().sum() > 0 for t in lora_b)
    result = infer_main(InferArguments(torch_dtype="float32", dataset=[one_process["data"]], adapters=str(ckpt),
                                       device="cpu", result_path=str(tmp_path / "p.jsonl")))
    # A random or lost head would score about 0.5 on this balanced, learnable data.
    assert result["metrics"]["accuracy"] > 0.9, result["metrics"]


def test_qwen2_vl_trains_under_zero3(tiny_vl_dir, shared, tmp_path):
    from helpers import write_textile

    from swiftcls import ModelArguments
    from swiftcls.models.trained import load_trained

    train, _ = write_textile(shared, tmp_path, per_class=4)
    out = tmp_path / "vl"
    log = _launch(["--model", str(tiny_vl_dir("qwen2_vl")), "--dataset", train, "--tuner_type", "full",
                   "--max_steps", "2", "--logging_steps", "1", "--per_device_train_batch_size", "2",
                   "--use_cpu", "true", "--deepspeed", "zero3", "--max_pixels", str(4 * 28 * 28),
                   "--min_pixels", str(4 * 28 * 28), "--torch_dtype", "float32", "--output_dir", str(out)],
                  NPROC_PER_NODE="2")
    assert re.search(r"ZeRO-3 rank 1 holds \d+ of \d+ parameter elements", log)
    assert len(logged_losses(out)) == 2
    model, *_ = load_trained(str(out / "checkpoint-2"), None, ModelArguments(torch_dtype="float32"), device="cpu")
    assert model.score.weight.shape == (3, model.config.get_text_config().hidden_size)


def test_accelerate_launch_matches_one_process(one_process, tmp_path):
    """``accelerate launch`` (2 processes, DDP on gloo) works as a launcher too, with the same loss curve."""
    out = tmp_path / "acc"
    argv = ["--model", one_process["model"], "--dataset", one_process["data"], *STEPS,
            "--per_device_train_batch_size", "4", "--output_dir", str(out)]
    # On CPU, --multi_gpu is what makes accelerate start N local processes (--cpu would start one; see DEVELOPERS.md).
    run = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                          "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                          "--main_process_port", str(_free_port()), "-m", "swiftcls", "sft", *argv],
                         env=_env(HOME=str(tmp_path)), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "world size 2" in run.stdout + run.stderr
    assert logged_losses(out) == pytest.approx(logged_losses(one_process["out"]), rel=2e-3)
