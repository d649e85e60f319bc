"""ZeRO-3 training throughput and memory: swiftcls vs the plain Hugging Face recipe, same model, data and config.

A randomly initialised model with the shape of Qwen/Qwen2.5-1.5B-Instruct (the real Qwen tokenizer from
``../shared/tokenizers/qwen2``) is trained for ``--steps`` optimizer steps as a 2-class classifier with
``--deepspeed zero3``, bf16, fixed-length rows of ``--seq_len`` tokens:

* ``swiftcls``: ``swiftcls sft`` (run in-process through ``sft_main``);
* ``hf``: ``AutoModelForSequenceClassification`` + ``transformers.Trainer`` with the same DeepSpeed config.

Each runs under ``torchrun --nproc_per_node <gpus>`` (one GPU by default). Reported per recipe: training tokens/s
(steady state, the first ``--warmup`` steps excluded), peak GPU memory allocated/reserved on rank 0, and the
swiftcls / hf ratios. Usage (repository root, GPU machine)::

    python benchmarks/zero3_throughput.py --out zero3.json            # Qwen2.5-1.5B shape, 1 GPU
    python benchmarks/zero3_throughput.py --shape tiny --cpu --steps 4  # smoke test of the script on a CPU

Figures go to docs/benchmarks.md with the command, machine and date.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

ROOT = Path(__file__).resolve().parents[1]

# Public config.json of Qwen/Qwen2.5-1.5B-Instruct (weights are random here: throughput only needs the shape).
QWEN2_5_1_5B = {"architectures": ["Qwen2ForCausalLM"], "hidden_act": "silu", "hidden_size": 1536,
                "intermediate_size": 8960, "max_position_embeddings": 32768, "max_window_layers": 21,
                "model_type": "qwen2", "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2,
                "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": True,
                "torch_dtype": "bfloat16", "use_sliding_window": False, "vocab_size": 151936,
                "bos_token_id": 151643, "eos_token_id": 151645}
TINY = {**QWEN2_5_1_5B, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2}


def build_model(shape: dict, folder: Path) -> Path:
    """Random weights of ``shape`` in bf16 + the real Qwen tokenizer, saved as safetensors."""
    import torch
    from common import SHARED
    from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(Qwen2Config(**shape), dtype=torch.bfloat16)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(SHARED / "tokenizers" / "qwen2").save_pretrained(folder)
    return folder


def write_data(path: Path, rows: int, seq_len: int) -> None:
    """Rows longer than ``seq_len`` tokens (truncated by --max_length), so every row is exactly seq_len long."""
    words = ["alpha", "beta", "gamma", "delta"]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(rows):
            text = " ".join(words[(i + j) % 4] for j in range(seq_len + 16))
            f.write(json.dumps({"text": text, "label": "good" if i % 2 else "bad"}) + "\n")


class StepTimer(TrainerCallback):
    """Records the wall time at the end of every optimizer step."""

    def __init__(self):
        self.times = []

    def on_step_end(self, args, state, control, **kwargs):
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.times.append(time.perf_counter())


def _result(timer, args, world: int) -> dict:
    import torch

    steps = len(timer.times) - args.warmup
    seconds = timer.times[-1] - timer.times[args.warmup - 1] if steps > 0 else float("nan")
    tokens = steps * args.batch_size * world * args.seq_len  # every row is exactly seq_len tokens
    gib = 2 ** 30
    on_gpu = torch.cuda.is_available() and not args.cpu
    return {"tokens_per_s": tokens / seconds, "timed_steps": steps, "seconds": seconds,
            "peak_allocated_gib": torch.cuda.max_memory_allocated() / gib if on_gpu else None,
            "peak_reserved_gib": torch.cuda.max_memory_reserved() / gib if on_gpu else None}


def worker_swiftcls(args, model_dir: str, data: str, ds: str) -> dict:
    """swiftcls sft in-process; the Trainer class is wrapped only to attach the step timer."""
    from swiftcls.commands import sft as sft_module

    timer, base = StepTimer(), sft_module.SeqClsTrainer

    class Timed(base):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.add_callback(timer)

    sft_module.SeqClsTrainer = Timed
    sft_module.sft_main([
        "--model", model_dir, "--dataset", data, "--tuner_type", "full", "--deepspeed", ds,
        "--max_steps", str(args.steps), "--per_device_train_batch_size", str(args.batch_size),
        "--max_length", str(args.seq_len), "--torch_dtype", "float32" if args.cpu else "bfloat16",
        "--bf16", "false" if args.cpu else "true", "--gradient_checkpointing", str(args.gradient_checkpointing),
        "--learning_rate", "1e-5", "--logging_steps", "10", "--eval_strategy", "no", "--save_strategy", "no",
        "--use_chat_template", "false", "--use_cpu", str(args.cpu),
        "--output_dir", str(Path(args.workdir) / "swiftcls_out")])
    return _result(timer, args, int(os.environ.get("WORLD_SIZE", "1")))


def worker_hf(args, model_dir: str, data: str, ds: str) -> dict:
    """The plain recipe: tokenize with padding to seq_len, AutoModelForSequenceClassification, Trainer."""
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    if args.cpu:
        import deepspeed

        deepspeed.init_distributed(dist_backend="gloo")
    # TrainingArguments first: with ZeRO-3 they make from_pretrained load the weights sharded.
    targs = TrainingArguments(
        output_dir=str(Path(args.workdir) / "hf_out"), deepspeed=ds, max_steps=args.steps,
        per_device_train_batch_size=args.batch_size, learning_rate=1e-5, bf16=not args.cpu, logging_steps=10,
        save_strategy="no", report_to=["none"], use_cpu=args.cpu, gradient_checkpointing=args.gradient_checkpointing)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.pad_token = tokenizer.pad_token or "<|endoftext|>"
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=2, dtype=torch.float32 if args.cpu else torch.bfloat16)
    model.config.pad_token_id = tokenizer.pad_token_id
    dataset = load_dataset("json", data_files=data, split="train").map(
        lambda b: {**tokenizer(b["text"], truncation=True, max_length=args.seq_len, padding="max_length"),
                   "labels": [int(x == "good") for x in b["label"]]}, batched=True, remove_columns=["text", "label"])
    timer = StepTimer()
    Trainer(model=model, args=targs, train_dataset=dataset, callbacks=[timer]).train()
    return _result(timer, args, int(os.environ.get("WORLD_SIZE", "1")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("qwen2.5-1.5b", "tiny"), default="qwen2.5-1.5b")
    parser.add_argument("--deepspeed", default="zero3")
    parser.add_argument("--gpus", type=int, default=1, help="processes (GPUs) on this machine")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5, help="untimed first steps (at least 1)")
    parser.add_argument("--batch_size", type=int, default=8, help="per device")
    parser.add_argument("--seq_len", type=int, default=1024)
    parser.add_argument("--gradient_checkpointing", type=str, default="true")
    parser.add_argument("--cpu", action="store_true", help="DeepSpeed on CPU/gloo (smoke test of this script)")
    parser.add_argument("--out", default="zero3_throughput.json")
    parser.add_argument("--worker", choices=("swiftcls", "hf"), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.gradient_checkpointing = args.gradient_checkpointing.lower() == "true"
    if args.worker:
        from swiftcls.training.deepspeed import resolve_deepspeed

        work = Path(args.workdir)
        run = worker_swiftcls if args.worker == "swiftcls" else worker_hf
        result = run(args, str(work / "model"), str(work / "train.jsonl"), resolve_deepspeed(args.deepspeed))
        if int(os.environ.get("RANK", "0")) == 0:
            (work / f"{args.worker}.json").write_text(json.dumps(result))
        return
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    if args.cpu:
        env.update(DS_ACCELERATOR="cpu", OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build_model(TINY if args.shape == "tiny" else QWEN2_5_1_5B, work / "model")
        write_data(work / "train.jsonl", args.batch_size * args.gpus * (args.steps + 1), args.seq_len)
        results = {}
        for recipe in ("hf", "swiftcls"):
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.gpus}",
                   __file__, *sys.argv[1:], "--worker", recipe, "--workdir", tmp]
            subprocess.run(cmd, env=env, check=True)
            results[recipe] = json.loads((work / f"{recipe}.json").read_text())
    s, h = results["swiftcls"], results["hf"]
    results["ratio_tokens_per_s"] = s["tokens_per_s"] / h["tokens_per_s"]
    if s["peak_allocated_gib"] and h["peak_allocated_gib"]:
        results["ratio_peak_allocated"] = s["peak_allocated_gib"] / h["peak_allocated_gib"]
    results["settings"] = {k: v for k, v in vars(args).items() if k not in ("worker", "workdir")}
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
