"""Inference throughput: swiftcls against ``pipeline("text-classification")`` and a length-sorted hand loop.

The hand loop is what a careful user writes (tokenize, sort by length, pad each batch, stock forward). All three start
from the same raw texts and the same weights (one seeded random model; the pipeline runs first with
transformers' default attention, then swiftcls switches that instance to the attention it picks and installs its
pooled forward) with the same batch size, dtype (bf16 on CUDA) and truncation. ``pipeline`` batches texts in
file order and pads each batch; swiftcls tokenizes, length-sorts, packs each batch without pad tokens (padded
batches where packing is unsupported) and pools before the head.
Timings include tokenization. Predictions of the two are compared as a check that they compute the same thing.

Example (H100)::

    python benchmarks/infer_throughput.py --shape qwen2.5-1.5b --data mixed --batch_size 32 --rows 4096
    python benchmarks/infer_throughput.py --shape tiny --max_length 512 --batch_size 16 --rows 256  # CPU
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import common as C  # noqa: E402
from transformers import pipeline  # noqa: E402


def run_pipeline(model, tok, items: list[str], args) -> tuple[float, np.ndarray]:
    """Seconds for ``pipeline("text-classification")`` over ``items``, and its predicted class ids."""
    clf = pipeline("text-classification", model=model, tokenizer=tok, device=torch.device(args.device))
    clf(items[: args.batch_size], batch_size=args.batch_size, truncation=True, max_length=args.max_length)  # warm-up
    start = C.sync(args.device)
    out = clf(items, batch_size=args.batch_size, truncation=True, max_length=args.max_length, top_k=1)
    seconds = C.sync(args.device) - start
    return seconds, np.array([model.config.label2id[o[0]["label"]] for o in out])


@torch.no_grad()
def run_sorted_loop(model, tok, items: list[str], args) -> tuple[float, np.ndarray]:
    """Seconds for the careful hand-written loop: tokenize, sort by length, pad each batch, stock forward, unsort."""

    def predict(batch_items):
        ids = tok(batch_items, truncation=True, max_length=args.max_length)["input_ids"]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros(len(ids), dtype=np.int64)
        for start in range(0, len(order), args.batch_size):
            idx = order[start:start + args.batch_size]
            batch = tok.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt").to(args.device)
            out[idx] = model(**batch).logits.argmax(-1).cpu().numpy()
        return out

    predict(items[: args.batch_size])  # warm-up
    start = C.sync(args.device)
    pred = predict(items)
    return C.sync(args.device) - start, pred


def run_swiftcls(model, tok, items: list[str], args) -> tuple[float, np.ndarray, bool]:
    """Seconds for swiftcls's prediction path over ``items`` (tokenize, length-sort, pack, pool, head)."""
    from swiftcls.core.spec import spec_for_config
    from swiftcls.data.collators import Collator, PackingCollator
    from swiftcls.inference.predict import predict_logits
    from swiftcls.models.packing import use_padding_free
    from swiftcls.models.pooling import install_pooled_forward

    spec = spec_for_config("qwen2")
    model = install_pooled_forward(model, spec)
    packed = use_padding_free(True, spec, model, args.attn_impl, args.device)  # switches to its attention
    collator = PackingCollator() if packed else Collator(tok.pad_token_id, "right")

    def predict(batch_items):
        rows = C.encode(tok, batch_items, args.max_length, labels=False)
        return predict_logits(model, rows, collator, args.batch_size, args.device, progress=False)

    predict(items[: args.batch_size])  # warm-up
    start = C.sync(args.device)
    logits = predict(items)
    seconds = C.sync(args.device) - start
    return seconds, logits.argmax(-1), packed


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    C.add_common_args(parser)
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    tok = C.tokenizer()
    items = C.texts(args.data, args.rows, args.max_length, tok, args.seed)
    lengths = sorted(len(r["input_ids"]) for r in C.encode(tok, items, args.max_length, labels=False))
    tokens = sum(lengths)
    print(f"device: {C.machine(args.device)}; shape {args.shape}, data {args.data}: {args.rows} rows, tokens "
          f"min/median/max {lengths[0]}/{lengths[len(lengths) // 2]}/{lengths[-1]}, batch {args.batch_size}")
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    model = C.build_model(args.shape, dtype, args.device, args.seed, args.attn_impl)  # the plain HF model
    model.eval()
    results = []
    C.reset_peak(args.device)
    with torch.no_grad():
        seconds, hf_pred = run_pipeline(model, tok, items, args)
    n_matmul, _ = C.count_params(model)
    peak = C.peak_tflops(args)

    def record(recipe: str, seconds: float) -> None:
        flops = 2 * n_matmul * tokens / seconds  # forward only: 2N per token
        results.append({"recipe": recipe, "attn": C.attn(model), "samples/s": args.rows / seconds,
                        "tokens/s": tokens / seconds, "TFLOP/s": flops / 1e12, "MFU": flops / (peak * 1e12),
                        "peak_mem_GiB": C.peak_memory_gib(args.device)})

    record("pipeline", seconds)
    C.reset_peak(args.device)
    seconds, loop_pred = run_sorted_loop(model, tok, items, args)
    record("sorted_loop", seconds)
    C.reset_peak(args.device)
    seconds, sw_pred, packed = run_swiftcls(model, tok, items, args)
    record("swiftcls" + (" (packed)" if packed else " (padded)"), seconds)
    source = "bf16 datasheet" if args.device.startswith("cuda") else "measured fp32 GEMM"
    print(f"MFU against {peak:.3g} TFLOP/s ({source}); rows/s = samples/s")
    C.print_table(results, ["recipe", "attn", "samples/s", "tokens/s", "TFLOP/s", "MFU", "peak_mem_GiB"])
    agree = float((hf_pred == sw_pred).mean())
    print(f"swiftcls / pipeline: samples/s x{results[2]['samples/s'] / results[0]['samples/s']:.2f}; "
          f"swiftcls / sorted hand loop: x{results[2]['samples/s'] / results[1]['samples/s']:.2f}; "
          f"same predicted class on {agree:.1%} of rows (hand loop: {float((loop_pred == sw_pred).mean()):.1%})")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results, "agree": agree}, indent=2))
    return results


if __name__ == "__main__":
    main()
