"""Crash safety: SIGKILL during training (twice, resuming in a later epoch) or during a save, then resume,
reaches the uninterrupted weights; half-written checkpoints and exports never look finished."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import make_rows, sft, write
from safetensors.torch import load_file

from swiftcls.core.errors import ConfigError
from swiftcls.training.checkpoints import checkpoints, remove_stale, resumable, resume_path

ROOT = Path(__file__).resolve().parents[2]

# Runs the real CLI in a child process that SIGKILLs itself at an exact point, so the test is not a race: the
# KILL_CALL-th call (default 1st) of Trainer.KILL_IN while the global step is KILL_STEP. `training_step` is one
# micro-batch (a 2nd call is between the two micro-batches of a step); `_save_rng_state` is the middle of writing
# a checkpoint (weights and optimizer written, RNG state and trainer state not yet).
KILLER = """
import os, signal, sys
from transformers import Trainer
name, step, call = os.environ["KILL_IN"], int(os.environ["KILL_STEP"]), int(os.environ.get("KILL_CALL", "1"))
original, calls = getattr(Trainer, name), []
def wrapper(self, *args, **kwargs):
    if self.state.global_step == step:
        calls.append(step)
        if len(calls) == call:
            os.kill(os.getpid(), signal.SIGKILL)
    return original(self, *args, **kwargs)
setattr(Trainer, name, wrapper)
from swiftcls.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def run_child(code: str, argv: list[str], **env) -> subprocess.CompletedProcess:
    child_env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                 "OMP_NUM_THREADS": "1", **env}  # as the in-process runs it is compared with (see _one_thread)
    return subprocess.run([sys.executable, "-c", code, *argv], env=child_env, capture_output=True, text=True,
                          timeout=300)


def kill_at(argv: list[str], name: str, step: int, call: int = 1) -> None:
    child = run_child(KILLER, argv, KILL_IN=name, KILL_STEP=str(step), KILL_CALL=str(call))
    assert child.returncode == -9, child.stderr[-3000:]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One CPU thread here and in the children: multi-threaded CPU kernels (embedding backward, reductions) are not
    bitwise reproducible from run to run, and these tests compare weights to 1e-6."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def job(tiny_model_dir, tmp_path_factory):
    """The flags of a 12-step LoRA run and its uninterrupted result.

    swiftcls's defaults that hold randomness or state are all in play: LoRA dropout, the length-grouped shuffled
    sampler, packed batches, a warm-up + cosine schedule. 20 rows, micro-batch 2, 2 micro-batches per step: 5 steps
    per epoch (2.4 epochs), a checkpoint every 4 steps.
    """
    tmp = tmp_path_factory.mktemp("crash")
    data = write(tmp / "train.jsonl", make_rows(20, "single"))

    def flags(out):
        return ["sft", "--model", str(tiny_model_dir("qwen2")), "--dataset", data, "--per_device_train_batch_size",
                "2", "--gradient_accumulation_steps", "2", "--max_steps", "12", "--save_strategy", "steps",
                "--save_steps", "4", "--learning_rate", "5e-3", "--warmup_ratio", "0.2", "--use_cpu", "true",
                # The length-grouped order and a cosine schedule: the resume paths with the most state to restore.
                "--train_sampling_strategy", "group_by_length", "--lr_scheduler_type", "cosine",
                "--logging_steps", "1", "--output_dir", str(out), "--report_to", "none"]

    reference = tmp / "reference"
    sft(flags(reference)[1:])
    return {"flags": flags, "reference": reference, "tmp": tmp}


def weights(folder: Path) -> dict:
    return load_file(str(folder / "adapter_model.safetensors"))


def assert_same_training(out: Path, reference: Path, resumed_at: int) -> None:
    """The same final weights (<= 1e-6) and the same logged loss at every step after ``resumed_at``."""
    resumed, expected = weights(out / "checkpoint-12"), weights(reference / "checkpoint-12")
    assert resumed.keys() == expected.keys() and expected
    for name, tensor in expected.items():
        assert (resumed[name] - tensor).abs().max().item() <= 1e-6, name

    def losses(run):
        state = json.loads((run / "checkpoint-12" / "trainer_state.json").read_text())
        return [(e["step"], e["loss"]) for e in state["log_history"] if "loss" in e and e["step"] > resumed_at]

    assert [s for s, _ in losses(out)] == [s for s, _ in losses(reference)] == list(range(resumed_at + 1, 13))
    assert [v for _, v in losses(out)] == pytest.approx([v for _, v in losses(reference)], abs=1e-6)


def test_killed_twice_in_training_then_resumed_reaches_the_same_weights(job, tmp_path):
    out = tmp_path / "out"
    # 1st kill: step 7 (epoch 1), first micro-batch. The resume starts mid-epoch 0 (checkpoint-4) and trains
    # across the epoch boundary.
    kill_at(job["flags"](out), "training_step", step=6)
    assert [Path(p).name for p in checkpoints(str(out))] == ["checkpoint-4"]
    # 2nd kill: step 11 (epoch 2), between its two micro-batches. The resume starts mid-epoch 1 (checkpoint-8):
    # epoch 1's order must not depend on the RNG state at the start of the epoch, which no checkpoint holds.
    kill_at(job["flags"](out) + ["--resume_from_checkpoint", "true"], "training_step", step=10, call=2)
    assert resumable(str(out)) == str(out / "checkpoint-8")

    summary = sft(job["flags"](out)[1:] + ["--resume_from_checkpoint", "true"])
    assert summary["last_model_checkpoint"] == str(out / "checkpoint-12")
    assert_same_training(out, job["reference"], resumed_at=8)


def test_sigkill_during_a_save_then_resume_reaches_the_same_weights(job, tmp_path):
    out = tmp_path / "out"
    kill_at(job["flags"](out), "_save_rng_state", step=8)
    # The interrupted save is only a staging folder; nothing named checkpoint-8 exists.
    assert [Path(p).name for p in checkpoints(str(out))] == ["checkpoint-4"] and (out / "tmp-checkpoint-8").is_dir()
    assert not (out / "tmp-checkpoint-8" / "checkpoint-8" / "trainer_state.json").exists()
    assert resumable(str(out)) == str(out / "checkpoint-4")

    summary = sft(job["flags"](out)[1:] + ["--resume_from_checkpoint", "true"])
    assert summary["last_model_checkpoint"] == str(out / "checkpoint-12")
    assert not list(out.glob("tmp-*"))  # the stale staging folder was cleaned up
    assert_same_training(out, job["reference"], resumed_at=4)


def test_checkpoints_are_rotated_and_carry_args(job):
    ref = job["reference"]  # save_total_limit 2: rotation still runs on the published folders
    assert [Path(p).name for p in checkpoints(str(ref))] == ["checkpoint-8", "checkpoint-12"]
    for folder in checkpoints(str(ref)):
        assert json.loads((Path(folder) / "args.json").read_text())["label_names"] == ["bad", "good"]
        assert (Path(folder) / "trainer_state.json").is_file() and (Path(folder) / "rng_state.pth").is_file()
    assert not list(ref.glob("tmp-*"))


def test_incomplete_checkpoints_are_never_resumed_from(tmp_path):
    out = tmp_path / "out"
    (out / "checkpoint-4").mkdir(parents=True)
    (out / "checkpoint-4" / "trainer_state.json").write_text("{}")
    (out / "checkpoint-8").mkdir()  # written in place by another tool and cut short: no trainer state
    (out / "checkpoint-8" / "model.safetensors").write_bytes(b"half")
    (out / "tmp-checkpoint-12" / "checkpoint-12").mkdir(parents=True)
    assert resume_path(str(out), "true") == str(out / "checkpoint-4")
    with pytest.raises(ConfigError, match="must hold trainer_state.json"):
        resume_path(str(out), str(out / "checkpoint-8"))
    with pytest.raises(ConfigError, match="never overwrites"):
        resume_path(str(out), None)
    assert remove_stale(str(out)) == [str(out / "tmp-checkpoint-12")] and not (out / "tmp-checkpoint-12").exists()


def test_a_kill_between_the_two_renames_keeps_the_old_checkpoint(tmp_path):
    # publish() moves an existing checkpoint-N aside before renaming the new one in; if the process dies in
    # between, the moved-aside copy is the only one and must be put back, not deleted.
    (tmp_path / "tmp-old-checkpoint-8").mkdir()
    (tmp_path / "tmp-old-checkpoint-8" / "trainer_state.json").write_text("{}")
    (tmp_path / "tmp-checkpoint-8" / "checkpoint-8").mkdir(parents=True)
    assert remove_stale(str(tmp_path)) == [str(tmp_path / "tmp-checkpoint-8")]
    assert resumable(str(tmp_path)) == str(tmp_path / "checkpoint-8")


EXPORT_KILLER = """
import os, signal, sys
from transformers import PreTrainedTokenizerBase
PreTrainedTokenizerBase.save_pretrained = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
from swiftcls.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_during_export_leaves_nothing_that_looks_complete(job, tmp_path):
    out = tmp_path / "exported"
    child = run_child(EXPORT_KILLER, ["export", "--adapters", str(job["reference"] / "checkpoint-12"),
                                      "--output_dir", str(out)])
    assert child.returncode == -9, child.stderr[-3000:]
    assert not out.exists()
    leftovers = list(tmp_path.iterdir())
    # Only the hidden staging folder remains (weights written, tokenizer not): no loader would pick it up.
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".exported.partial-")
    assert (leftovers[0] / "model.safetensors").is_file()
