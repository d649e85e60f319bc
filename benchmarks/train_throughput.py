"""Training throughput: swiftcls against the plain Hugging Face recipe, same model, data and batch settings.

Recipes (each on a fresh copy of the same seeded random model, on the same token ids, same batch size and
optimizer settings, one after the other in this process):

* ``hf``: ``AutoModelForSequenceClassification`` + ``Trainer`` + ``DataCollatorWithPadding`` (random batches; the
  stock forward scores every position, ``[batch, seq, labels]``, then picks the last non-pad one).
* ``hf_grouped``: the same with ``train_sampling_strategy="group_by_length"`` (what a careful HF user adds).
* ``swiftcls``: ``SeqClsTrainer`` + the pooled forward (pool, then score) + ``PackingCollator`` (padding-free)
  + length-grouped batches, and the attention swiftcls picks (flash_attention_2 on CUDA when installed).

Printed per recipe: non-pad tokens/s, samples/s, pad share, MFU (see ``common.train_flops_per_token``), peak
memory; then swiftcls / hf ratios. Example (H100)::

    python benchmarks/train_throughput.py --shape qwen2.5-1.5b --tuner full --data mixed --batch_size 16
    python benchmarks/train_throughput.py --shape tiny --max_length 512 --batch_size 8 --steps 6 --warmup 2  # CPU
    python benchmarks/train_throughput.py --model minilm --data mixed --max_length 256 --batch_size 16  # packed BERT
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import common as C  # noqa: E402
from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments  # noqa: E402

RECIPES = ("hf", "hf_grouped", "swiftcls")


class Counting:
    """Wraps a collator and records the non-pad tokens of every batch it builds, in order."""

    def __init__(self, inner):
        self.inner, self.tokens, self.computed = inner, [], []

    def __call__(self, rows):
        batch = self.inner(rows)
        mask = batch.get("attention_mask")
        self.tokens.append(int(mask.sum()) if mask is not None else batch["input_ids"].numel())
        self.computed.append(batch["input_ids"].numel())
        return batch


class Clock(TrainerCallback):
    """Time at the end of every optimizer step (after a device sync)."""

    def __init__(self, device):
        self.device, self.ends = device, []

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(C.sync(self.device))


def training_args(args, out: str, grouped: bool) -> TrainingArguments:
    kwargs = dict(output_dir=out, max_steps=args.warmup + args.steps, per_device_train_batch_size=args.batch_size,
                  learning_rate=1e-5, lr_scheduler_type="constant", save_strategy="no", report_to="none",
                  logging_strategy="no", remove_unused_columns=False, disable_tqdm=True, seed=args.seed,
                  bf16=args.device.startswith("cuda"), use_cpu=not args.device.startswith("cuda"),
                  dataloader_pin_memory=args.device.startswith("cuda"),
                  train_sampling_strategy="group_by_length" if grouped else "random")
    if args.gradient_checkpointing:
        kwargs["gradient_checkpointing"] = True
        kwargs["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    return TrainingArguments(**kwargs)


def _model(args, dtype: torch.dtype):
    """The random model of ``--shape``, or the real all-MiniLM-L6-v2 weights with a new 2-label head."""
    if args.model != "minilm":
        return C.build_model(args.shape, dtype, args.device, args.seed, args.attn_impl)
    from transformers import AutoModelForSequenceClassification

    from swiftcls.models.varlen import register
    from tests.assets import minilm_path

    register()
    attn = {"attn_implementation": args.attn_impl} if args.attn_impl else {}
    torch.manual_seed(args.seed)
    return AutoModelForSequenceClassification.from_pretrained(minilm_path(), num_labels=2, dtype=dtype, **attn).to(
        args.device)


def _tokenizer(args):
    if args.model != "minilm":
        return C.tokenizer()
    from transformers import AutoTokenizer

    from tests.assets import minilm_path

    return AutoTokenizer.from_pretrained(minilm_path())


def make_trainer(recipe: str, args, rows, tok, out: str):
    """The model and Trainer of one recipe."""
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    if recipe == "swiftcls":
        from swiftcls.core.spec import spec_for_config
        from swiftcls.data.collators import PackingCollator
        from swiftcls.models.packing import use_padding_free
        from swiftcls.models.pooling import install_pooled_forward
        from swiftcls.models.tuners import apply_lora
        from swiftcls.training.losses import LossConfig
        from swiftcls.training.trainer import SeqClsTrainer

        spec = spec_for_config("bert" if args.model == "minilm" else "qwen2")
        model = install_pooled_forward(_model(args, dtype), spec)
        packed = use_padding_free(True, spec, model, args.attn_impl, args.device)  # picks the attention too
        if args.tuner == "lora":
            model = apply_lora(model, spec, ["score"], args.lora_rank, 2 * args.lora_rank, 0.0, ["all-linear"])
        collator = Counting(PackingCollator() if packed else DataCollatorWithPadding(tok))
        loss = LossConfig("single_label_classification")
        trainer = SeqClsTrainer(model=model, args=training_args(args, out, True), train_dataset=rows,
                                data_collator=collator, spec=spec, loss_config=loss)
        return trainer, collator
    model = _model(args, dtype)
    if args.tuner == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=args.lora_rank, lora_alpha=2 * args.lora_rank,
                                                 lora_dropout=0.0, target_modules="all-linear"))
    collator = Counting(DataCollatorWithPadding(tok))
    trainer = Trainer(model=model, args=training_args(args, out, recipe == "hf_grouped"), train_dataset=rows,
                      data_collator=collator)
    return trainer, collator


def measure(recipe: str, args, rows, tok) -> dict:
    C.reset_peak(args.device)
    with tempfile.TemporaryDirectory() as out:
        trainer, collator = make_trainer(recipe, args, rows, tok, out)
        clock = Clock(args.device)
        trainer.add_callback(clock)
        trainer.train()
    model = trainer.model
    first, last = args.warmup, args.warmup + args.steps  # batches[first:last] were the timed steps
    seconds = clock.ends[last - 1] - clock.ends[first - 1]
    tokens, computed = sum(collator.tokens[first:last]), sum(collator.computed[first:last])
    n_matmul, n_train = C.count_params(model)
    flops = C.train_flops_per_token(n_matmul, n_train, args.tuner == "lora") * tokens / seconds
    peak = C.peak_tflops(args)
    result = {"recipe": recipe, "attn": C.attn(model), "tokens/s": tokens / seconds,
              "samples/s": args.steps * args.batch_size / seconds, "pad_share": 1 - tokens / computed,
              "TFLOP/s": flops / 1e12, "MFU": flops / (peak * 1e12),
              "peak_mem_GiB": C.peak_memory_gib(args.device), "params": n_matmul, "trainable": n_train}
    del trainer, model
    gc.collect()
    return result


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    C.add_common_args(parser)
    parser.add_argument("--model", default="shape", choices=("shape", "minilm"),
                        help="shape: a random Qwen2 of --shape; minilm: the real all-MiniLM-L6-v2 (packed BERT)")
    parser.add_argument("--tuner", default="full", choices=("full", "lora"))
    parser.add_argument("--lora_rank", type=int, default=8)
    parser.add_argument("--steps", type=int, default=30, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (kernels, allocator)")
    parser.add_argument("--gradient_checkpointing", action="store_true")
    parser.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated subset of {RECIPES}")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    tok = _tokenizer(args)
    n = args.batch_size * (args.warmup + args.steps)
    rows = C.encode(tok, C.texts(args.data, n, args.max_length, tok, args.seed), args.max_length, seed=args.seed)
    lengths = sorted(len(r["input_ids"]) for r in rows)
    model = args.shape if args.model == "shape" else args.model
    print(f"device: {C.machine(args.device)}; {model}, {args.tuner}, data {args.data}: {n} rows, tokens "
          f"min/median/max {lengths[0]}/{lengths[n // 2]}/{lengths[-1]}, batch {args.batch_size}, "
          f"{args.warmup}+{args.steps} steps, gradient checkpointing {args.gradient_checkpointing}")
    results = [measure(r, args, rows, tok) for r in args.recipes.split(",")]
    C.print_table(results, ["recipe", "attn", "tokens/s", "samples/s", "pad_share", "TFLOP/s", "MFU", "peak_mem_GiB"])
    by = {r["recipe"]: r for r in results}
    if "swiftcls" in by:
        for base in ("hf", "hf_grouped"):
            if base in by:
                print(f"swiftcls / {base}: tokens/s x{by['swiftcls']['tokens/s'] / by[base]['tokens/s']:.2f}, "
                      f"samples/s x{by['swiftcls']['samples/s'] / by[base]['samples/s']:.2f}, "
                      f"peak memory x{by['swiftcls']['peak_mem_GiB'] / by[base]['peak_mem_GiB']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return results


if __name__ == "__main__":
    main()
