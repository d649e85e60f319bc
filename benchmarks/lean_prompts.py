"""Lean prompts: SmolLM2-135M-Instruct LoRA with and without the chat template's default system prompt.

SmolLM2's chat template puts "You are a helpful AI assistant named SmolLM, trained by Hugging Face" into every
prompt that has no system turn: about 16 tokens per row that say nothing about the row. Two arms, same rows, same
seed, same settings, interleaved (seed-major, so a study stopped early still compares both arms):

* ``default``: ``--system default``, the template's default system prompt (swiftcls's prompts before lean prompts);
* ``lean``: no ``--system``, swiftcls's default since: an empty system turn instead.

Each run trains with ``swiftcls sft`` (LoRA, no validation) on a seeded subset of the set's train file, then loads
the checkpoint with ``Classifier.from_pretrained`` (which formats prompts from ``args.json``, as infer/deploy do)
and scores a seeded subset of the dev file: SST-2 accuracy, GoEmotions macro-F1 at threshold 0.5 and macro ROC AUC.
Throughput: training rows/s and non-pad tokens/s (``train_runtime`` of the trainer, tokens from the encoded rows),
inference rows/s and non-pad tokens/s (``predict_proba`` over the dev rows, batch 32).

Results are appended to ``--out`` (one JSON line per run); runs already there are skipped, so an interrupted study
resumes. ``--report`` prints the markdown table (mean ± std over seeds, and the lean/default ratios).

    OMP_NUM_THREADS=1 nice python benchmarks/lean_prompts.py --out runs/lean_prompts.jsonl  # hours on a busy 2-core box
    python benchmarks/lean_prompts.py --out runs/lean_prompts.jsonl --report
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the swiftcls of this checkout, and tests/assets.py

from benchmarks.defaults_study import prepare  # noqa: E402
from tests.assets import smollm2_path  # noqa: E402

ARMS = {"default": {"system": "default"}, "lean": {}}
SETS = ("sst2", "goemotions")
PROBLEM = {"sst2": "single_label_classification", "goemotions": "multi_label_classification"}


def _tokens(clf, rows: list[dict]) -> int:
    """Non-pad tokens of ``rows`` formatted the way the checkpoint was trained (its args.json)."""
    from swiftcls.data.dataset import Example

    return sum(len(r["input_ids"]) for r in clf.encoder.encode([Example(r["text"]) for r in rows]))


def _metrics(probs: np.ndarray, rows: list[dict], clf, problem: str) -> dict:
    from sklearn.metrics import f1_score, roc_auc_score

    if problem == "single_label_classification":
        y = np.asarray([clf.labels.index(str(r["label"])) for r in rows])
        return {"accuracy": float((probs.argmax(1) == y).mean())}
    y = np.zeros(probs.shape, dtype=int)
    for i, r in enumerate(rows):
        y[i, [clf.labels.index(n) for n in r["label"]]] = 1
    present = y.sum(0) > 0  # AUC needs both classes of a label in the dev rows
    return {"f1_macro": float(f1_score(y, probs >= 0.5, average="macro", zero_division=0)),
            "f1_micro": float(f1_score(y, probs >= 0.5, average="micro", zero_division=0)),
            "roc_auc_macro": float(roc_auc_score(y[:, present], probs[:, present], average="macro"))}


@contextlib.contextmanager
def _timed_train():
    """The trainer's own ``train_runtime`` of the ``sft_main`` call inside (the checkpoint's trainer_state.json is
    written before training ends and lacks it)."""
    from swiftcls.training.trainer import SeqClsTrainer

    timing, train = {}, SeqClsTrainer.train

    def timed(self, *args, **kwargs):
        out = train(self, *args, **kwargs)
        timing["train_runtime"] = out.metrics["train_runtime"]
        return out

    SeqClsTrainer.train = timed
    try:
        yield timing
    finally:
        SeqClsTrainer.train = train


def run(data: dict, name: str, arm: str, seed: int, out: Path, args) -> dict:
    """One ``swiftcls sft`` run of ``arm`` and its scores on the dev rows."""
    from swiftcls.commands.sft import sft_main
    from swiftcls.inference.classifier import Classifier

    options = {"model": str(smollm2_path()), "dataset": [str(data["folder"] / "train.jsonl")], "tuner_type": "lora",
               "lora_rank": 8, "learning_rate": args.learning_rate, "num_train_epochs": args.epochs,
               "per_device_train_batch_size": 8, "max_length": args.max_length, "problem_type": PROBLEM[name],
               "seed": seed, "output_dir": str(out), "disable_tqdm": True, "use_cpu": True,
               **ARMS[arm]}
    if data["names"]:
        options["labels"] = [str(data["folder"] / "labels.txt")]
    start = time.perf_counter()
    with _timed_train() as timing:
        summary = sft_main(options)
    wall = time.perf_counter() - start
    ckpt = Path(summary["last_model_checkpoint"])
    train_runtime = timing["train_runtime"]
    clf = Classifier.from_pretrained(adapters=str(ckpt), device="cpu")
    train_tokens = _tokens(clf, data["train"]) * args.epochs
    dev_tokens = _tokens(clf, data["dev"])
    start = time.perf_counter()
    probs = clf.predict_proba([r["text"] for r in data["dev"]], batch_size=32)
    infer_s = time.perf_counter() - start
    train_rows = len(data["train"]) * args.epochs
    return {"set": name, "arm": arm, "seed": seed, "train_rows": len(data["train"]), "dev_rows": len(data["dev"]),
            "epochs": args.epochs, "max_length": args.max_length, "prompt_tokens": clf.encoder.overhead(),
            "train_tokens_per_row": round(train_tokens / train_rows, 2),
            "train_rows_s": round(train_rows / train_runtime, 3),
            "train_tokens_s": round(train_tokens / train_runtime, 1),
            "infer_rows_s": round(len(data["dev"]) / infer_s, 3), "infer_tokens_s": round(dev_tokens / infer_s, 1),
            "train_runtime_s": round(train_runtime, 1), "wall_s": round(wall + infer_s, 1),
            **_metrics(np.asarray(probs), data["dev"], clf, PROBLEM[name])}


def study(args) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        done = {(r["set"], r["arm"], r["seed"]) for r in map(json.loads, out.read_text().splitlines())}
    work = Path(tempfile.mkdtemp(prefix="lean_prompts-"))
    try:
        rows = {"sst2": args.train_rows, "goemotions": args.goemotions_train_rows or args.train_rows}
        prepared = {name: prepare(name, rows[name], args.dev_rows, work / name) for name in args.sets}
        for seed in args.seeds:
            for name, data in prepared.items():
                # Alternate which arm goes first, so a drift in the machine's load does not favour one arm.
                arms = args.arms if seed % 2 == 0 else args.arms[::-1]
                for arm in arms:
                    if (name, arm, seed) in done:
                        continue
                    row = run(data, name, arm, seed, work / f"{name}-{arm}-{seed}", args)
                    with open(out, "a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
                    shutil.rmtree(work / f"{name}-{arm}-{seed}", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


COLUMNS = ("prompt_tokens", "train_tokens_per_row", "train_rows_s", "train_tokens_s", "infer_rows_s",
           "infer_tokens_s")
QUALITY = {"sst2": ("accuracy",), "goemotions": ("f1_macro", "f1_micro", "roc_auc_macro")}


def _cell(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4g} ± {std:.2g}"


def report(path: str) -> None:
    """Markdown tables: per set and arm, mean ± std over seeds; then lean/default ratios per seed (same rows)."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
    for name in SETS:
        runs = [r for r in rows if r["set"] == name]
        if not runs:
            continue
        keys = (*QUALITY[name], *COLUMNS)
        print(f"\n{name}: {runs[0]['train_rows']} train / {runs[0]['dev_rows']} dev rows, {runs[0]['epochs']} "
              f"epoch(s), max_length {runs[0]['max_length']}\n")
        print("| arm | seeds | " + " | ".join(keys) + " |")
        print("|---|---|" + "---|" * len(keys))
        for arm in ARMS:
            mine = [r for r in runs if r["arm"] == arm]
            if mine:
                print(f"| {arm} | {len(mine)} | " + " | ".join(_cell([r[k] for r in mine]) for k in keys) + " |")
        pairs = [(d, lean) for d in runs if d["arm"] == "default"
                 for lean in runs if lean["arm"] == "lean" and lean["seed"] == d["seed"]]
        if pairs:
            cells = []
            for k in ("train_tokens_per_row", "train_rows_s", "train_tokens_s", "infer_rows_s", "infer_tokens_s",
                      *QUALITY[name]):
                ratios = [lean[k] / d[k] for d, lean in pairs if d[k]]
                if ratios:
                    cells.append(f"{k} ×{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})")
            print(f"\nlean / default, median (min-max) of {len(pairs)} paired seed(s): " + "; ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--train_rows", type=int, default=160)
    parser.add_argument("--goemotions_train_rows", type=int, default=None, help="default: --train_rows")
    parser.add_argument("--dev_rows", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--learning_rate", type=float, default=3e-4)
    parser.add_argument("--out", default="runs/lean_prompts.jsonl")
    parser.add_argument("--report", action="store_true", help="print the tables of --out and exit")
    args = parser.parse_args()
    if args.report:
        report(args.out)
    else:
        study(args)


if __name__ == "__main__":
    main()
