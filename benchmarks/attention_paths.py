"""Forward + backward time of one model on the same rows: padded batches vs packed batches per attention.

Cases: ``padded/sdpa`` (what the HF recipe computes), ``packed/sdpa`` (transformers' block-diagonal mask from
position_ids), ``packed/swiftcls_varlen`` (swiftcls's default) and, when flash-attn is installed on CUDA,
``packed/flash_attention_2``. Each case runs ``--repeats`` times over all rows, interleaved; the best is printed.

    python benchmarks/attention_paths.py --shape tiny --data mixed --max_length 1024 --batch_size 8 --rows 32  # CPU
    python benchmarks/attention_paths.py --shape qwen2.5-1.5b --data mixed --batch_size 16 --rows 256          # GPU
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import common as C  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    C.add_common_args(parser)
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    from swiftcls.core.spec import spec_for_config
    from swiftcls.data.collators import Collator, PackingCollator
    from swiftcls.models.pooling import classifier_logits, install_pooled_forward

    tok = C.tokenizer()
    rows = C.encode(tok, C.texts(args.data, args.rows, args.max_length, tok, args.seed), args.max_length,
                    labels=False)
    spec = spec_for_config("qwen2")
    dtype = torch.bfloat16 if args.device.startswith("cuda") else torch.float32
    cases = [("padded", "sdpa"), ("packed", "sdpa"), ("packed", "swiftcls_varlen")]
    if args.device.startswith("cuda") and importlib.util.find_spec("flash_attn"):
        cases.append(("packed", "flash_attention_2"))
    model = install_pooled_forward(C.build_model(args.shape, dtype, args.device, args.seed), spec)
    collators = {"padded": Collator(tok.pad_token_id), "packed": PackingCollator()}
    times = {case: [] for case in cases}
    for _ in range(args.repeats):
        for batching, attn in cases:
            if attn == "swiftcls_varlen":
                from swiftcls.models.varlen import register

                register()
            model.set_attn_implementation(attn)
            start = C.sync(args.device)
            for i in range(0, len(rows), args.batch_size):
                batch = collators[batching](rows[i:i + args.batch_size])
                batch = {k: v.to(args.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
                classifier_logits(model, batch).float().sum().backward()
            times[(batching, attn)].append(C.sync(args.device) - start)
    lengths = sorted(len(r["input_ids"]) for r in rows)
    print(f"device: {C.machine(args.device)}; shape {args.shape}, data {args.data}: {len(rows)} rows, tokens "
          f"min/median/max {lengths[0]}/{lengths[len(lengths) // 2]}/{lengths[-1]}, batch {args.batch_size}")
    base = min(times[("padded", "sdpa")])
    for (batching, attn), values in times.items():
        print(f"{batching:7s} {attn:18s} best {min(values):.3f} s  (x{base / min(values):.2f} vs padded sdpa)  "
              f"all {[round(v, 3) for v in values]}")
    return times


if __name__ == "__main__":
    main()
