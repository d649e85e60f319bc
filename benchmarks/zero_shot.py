"""Label-name head vs random head on real weights: SmolLM2-135M-Instruct on SST-2 (docs/zero_shot.md).

Measures, on one fixed seeded subset of the SST-2 dev file:

* the majority class and the zero-shot accuracy (``swiftcls infer --zero_shot``: no training at all);
* k-shot accuracy (k balanced rows sampled from SST-2 train per seed) after LoRA training from a label-name head
  (``--head_init label_names``) and from a random head, the same prompt, data, seed and steps for both.

Accuracy is not a timing, so the shared CPU only changes how long it takes. Example (repository root)::

    python benchmarks/zero_shot.py --dev_rows 300 --shots 32 64 128 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # tests/assets.py finds the real weights

from assets import shared_dir, smollm2_path  # noqa: E402

from swiftcls.api import infer_main, sft_main  # noqa: E402
from swiftcls.core.prompt_template import DEFAULT_PROMPT  # noqa: E402

LABELS = ["negative", "positive"]


def _rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        return [(row[0], row[1]) for row in reader]


def _write(rows: list[tuple[str, str]], path: Path) -> str:
    path.write_text("".join(json.dumps({"text": t, "label": LABELS[int(y)]}) + "\n" for y, t in rows),
                    encoding="utf-8")
    return str(path)


def _balanced(rows: list[tuple[str, str]], k: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    picked = []
    for label in ("0", "1"):
        picked += rng.sample([r for r in rows if r[0] == label], k // 2)
    rng.shuffle(picked)
    return picked


def _quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dev_rows", type=int, default=300, help="seeded SST-2 dev subset (0: all 872)")
    parser.add_argument("--shots", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=float, default=4)
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--skip_zero_shot", action="store_true", help="only the k-shot runs")
    args = parser.parse_args()
    model = str(smollm2_path())
    data = shared_dir() / "data" / "sst2"
    dev = _rows(data / "dev.tsv")
    if args.dev_rows:
        dev = random.Random(1234).sample(dev, args.dev_rows)
    train = [r for r in _rows(data / "train.tsv") if len(r[1].split()) >= 4]  # whole sentences, not 1-word phrases
    tmp = Path(tempfile.mkdtemp(prefix="zs-bench-"))
    dev_file = _write(dev, tmp / "dev.jsonl")
    majority = max(sum(y == c for y, _ in dev) for c in "01") / len(dev)
    start = time.time()
    zero = float("nan") if args.skip_zero_shot else _quiet(infer_main, {
        "model": model, "zero_shot": True, "labels": LABELS, "dataset": [dev_file],
        "result_path": str(tmp / "zero.jsonl"), "device": "cpu"})["metrics"]["accuracy"]
    print(f"dev rows {len(dev)}; majority class {majority:.4f}; zero-shot (label-name head, step 0) {zero:.4f} "
          f"({time.time() - start:.0f} s)", flush=True)
    results: dict[tuple[int, str], list[float]] = {}
    for k in args.shots:
        for seed in args.seeds:
            train_file = _write(_balanced(train, k, seed), tmp / f"train-{k}-{seed}.jsonl")
            for init in ("label_names", "random"):
                start = time.time()
                out = tmp / f"run-{k}-{seed}-{init}"
                summary = _quiet(sft_main, {
                    "model": model, "dataset": [train_file], "val_dataset": [dev_file], "labels": LABELS,
                    "head_init": init, "prompt": DEFAULT_PROMPT, "output_dir": str(out), "seed": seed,
                    "num_train_epochs": args.epochs, "learning_rate": args.learning_rate,
                    "per_device_train_batch_size": args.batch_size, "eval_strategy": "no", "save_strategy": "no",
                    "logging_steps": 1000, "use_cpu": True, "disable_tqdm": True, "report_to": "none"})
                acc = summary["metrics"]["accuracy"]
                results.setdefault((k, init), []).append(acc)
                print(f"k={k} seed={seed} head_init={init}: accuracy {acc:.4f} ({time.time() - start:.0f} s)",
                      flush=True)
    print("\n| k (train rows) | label_names head | random head |\n|---|---|---|")
    print(f"| 0 (no training) | {zero:.4f} | - (majority class {majority:.4f}) |")
    for k in args.shots:
        cells = []
        for init in ("label_names", "random"):
            accs = results[(k, init)]
            std = statistics.stdev(accs) if len(accs) > 1 else 0.0
            cells.append(f"{statistics.mean(accs):.4f} ± {std:.4f} ({', '.join(f'{a:.3f}' for a in accs)})")
        print(f"| {k} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
