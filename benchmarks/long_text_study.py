"""One ``--long_text`` training run on the long rows of ``examples/long_text.py``, with its loss curve.

Builds SST-2 reviews placed after neutral STS-B filler (filler counted in words, or in MiniLM tokens with
``--filler_tokens``), trains all-MiniLM-L6-v2 once with ``swiftcls sft`` (``--long_text``, ``--chunk_stride``,
``--chunk_pooling`` as given), records the training loss of every step, the windows per row, the dev metrics, and,
for a chunk-trained model, the same model scored on truncated rows (``eval --long_text truncate``). One JSON line is
appended to ``--out``.

    OMP_NUM_THREADS=1 nice python benchmarks/long_text_study.py --work runs/lt_s0 --filler_tokens 128 \\
        --chunk_stride 0 --chunk_pooling max --epochs 4 --out benchmarks/results/long_text_max128.jsonl
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the swiftcls of this checkout, and tests/assets.py

from tests.assets import minilm_path  # noqa: E402


def example():
    """examples/long_text.py as a module (it builds the rows)."""
    spec = importlib.util.spec_from_file_location("long_text_example", HERE.parent / "examples" / "long_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="a new folder for the rows and the run")
    parser.add_argument("--out", required=True, help="JSON lines file the result is appended to")
    parser.add_argument("--mode", choices=["truncate", "chunk"], default="chunk")
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--train_rows", type=int, default=320)
    parser.add_argument("--dev_rows", type=int, default=200)
    parser.add_argument("--filler_words", type=int, default=None, help="default: --max_length")
    parser.add_argument("--filler_tokens", type=int, default=None, help="filler in MiniLM tokens instead of words")
    parser.add_argument("--chunk_stride", type=int, default=None, help="default: max_length // 4")
    parser.add_argument("--chunk_pooling", choices=["mean", "max"], default="mean")
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--learning_rate", default="1e-4")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from swiftcls import eval_main, sft_main
    from swiftcls.data.chunking import encoder_windows
    from swiftcls.training import trainer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    count, filler = None, args.filler_words or args.max_length
    if args.filler_tokens is not None:
        count, filler = (lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])), args.filler_tokens
    work = Path(args.work)
    train, dev = example().build(work / "data", args.train_rows, args.dev_rows, filler, args.seed, count)
    stride = args.max_length // 4 if args.chunk_stride is None else args.chunk_stride
    texts = [json.loads(line)["text"] for line in open(train, encoding="utf-8")]
    windows = [len(w) for w in encoder_windows(tokenizer, texts, None, args.max_length, stride)]

    losses = []
    compute_loss = trainer.SeqClsTrainer.compute_loss

    def recording(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
        if model.training:
            losses.append(round(float((out[0] if return_outputs else out).detach()), 4))
        return out

    trainer.SeqClsTrainer.compute_loss = recording
    start = time.perf_counter()
    summary = sft_main(["--model", str(minilm_path()), "--dataset", train, "--val_dataset", dev, "--tuner_type",
                        "full", "--learning_rate", args.learning_rate, "--num_train_epochs", str(args.epochs),
                        "--max_length", str(args.max_length), "--long_text", args.mode, "--chunk_stride", str(stride),
                        "--chunk_pooling", args.chunk_pooling, "--per_device_train_batch_size", "16", "--seed",
                        str(args.seed), "--save_strategy", "no", "--eval_strategy", "no",
                        "--output_dir", str(work / "run")])
    seconds = round(time.perf_counter() - start)
    keep = ("accuracy", "f1_macro", "roc_auc", "confusion_matrix")
    row = {**{k: v for k, v in vars(args).items() if k not in ("work", "out")}, "chunk_stride": stride,
           "windows_per_row": {str(n): windows.count(n) for n in sorted(set(windows))},
           "train_tokens_median": statistics.median(len(tokenizer(t)["input_ids"]) for t in texts),
           "steps": len(losses), "seconds": seconds, **{k: summary["metrics"][k] for k in keep},
           "first10_loss": statistics.mean(losses[:10]), "last10_loss": statistics.mean(losses[-10:]),
           "losses": losses}
    if args.mode == "chunk":
        truncated = eval_main(["--model", summary["last_model_checkpoint"], "--dataset", dev, "--long_text",
                               "truncate"])["metrics"]
        row["truncated_eval"] = {k: truncated[k] for k in keep}
    with open(args.out, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row))


if __name__ == "__main__":
    main()
