"""swiftcls's training defaults against the plain Hugging Face recipe, on real data, over several seeds.

Both recipes fine-tune all-MiniLM-L6-v2 in full on the *same* training rows (a seeded subset of each set's train
file, written once to JSONL), with the same fixed settings (2 epochs, batch 16, lr 5e-5, max_length 128), and are
scored by the same function on the same held-out dev rows (a subset of the dev file, never seen in training and
not used to pick a checkpoint: no recipe gets validation rows). What differs is only what each recipe defaults to:

* ``hf``: ``AutoModelForSequenceClassification`` + ``Trainer`` + ``DataCollatorWithPadding``, linear decay,
  no warm-up, random batches (transformers' defaults);
* ``swiftcls``: ``swiftcls sft`` with nothing but the fixed settings, i.e. its current defaults;
* ``swiftcls_v1`` and the ablations: swiftcls with the defaults it had before this study
  (cosine, 5% warm-up, length-grouped batches), and with one of them changed at a time.

Results are appended to ``--out`` (one JSON line per run) and runs already there are skipped, so an interrupted
study resumes. ``--report`` prints the mean +- std table from that file.

    OMP_NUM_THREADS=1 nice python benchmarks/defaults_study.py --out defaults_study.jsonl
    python benchmarks/defaults_study.py --out defaults_study.jsonl --report
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the swiftcls of this checkout, and tests/assets.py

from tests.assets import minilm_path, shared_dir  # noqa: E402

FIXED = {"num_train_epochs": 2, "per_device_train_batch_size": 16, "learning_rate": 5e-5, "max_length": 128}
OLD = {"lr_scheduler_type": "cosine", "warmup_steps": 0.05, "train_sampling_strategy": "group_by_length"}
# swiftcls recipes: the flags each adds to FIXED.
RECIPES = {
    "swiftcls": {},
    "swiftcls_v1": OLD,
    "v1_linear_nowarmup": {**OLD, "lr_scheduler_type": "linear", "warmup_steps": 0.0},
    "v1_random_batches": {**OLD, "train_sampling_strategy": "random"},
}
SETS = ("sst2", "goemotions", "stsb")
PROBLEM = {"sst2": "single_label_classification", "goemotions": "multi_label_classification",
           "stsb": "regression"}


def _rows(name: str) -> tuple[list[dict], list[dict], list[str] | None]:
    """All train and dev rows of a set as ``{"text", "text_pair"?, "label"}``, and the label names if any."""
    root = shared_dir() / "data" / name
    if name == "sst2":
        def read(path):
            lines = path.read_text(encoding="utf-8").splitlines()[1:]
            return [{"text": t.strip(), "label": int(y)} for y, t in (line.split("\t", 1) for line in lines)]
        return read(root / "train.tsv"), read(root / "dev.tsv"), None
    if name == "goemotions":
        import csv

        names = (root / "labels.txt").read_text(encoding="utf-8").split()

        def read(path):
            with open(path, encoding="utf-8", newline="") as f:
                return [{"text": r["text"], "label": [names[int(i)] for i in r["label"].split(",")]}
                        for r in csv.DictReader(f, delimiter="\t")]
        return read(root / "train.tsv"), read(root / "dev.tsv"), names

    def read(path):  # STS-B: no header, some rows carry extra trailing columns
        cells = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines())
        return [{"text": c[5], "text_pair": c[6], "label": float(c[4])} for c in cells]
    return read(root / "sts-train.csv"), read(root / "sts-dev.csv"), None


def prepare(name: str, train_rows: int, dev_rows: int, folder: Path) -> dict:
    """Write the seeded subsets of one set (the same for every recipe and seed)."""
    train, dev, names = _rows(name)
    rng = random.Random(1234)
    train, dev = rng.sample(train, min(train_rows, len(train))), rng.sample(dev, min(dev_rows, len(dev)))
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("dev", dev)):
        with open(folder / f"{split}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if names:
        (folder / "labels.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return {"train": train, "dev": dev, "names": names, "folder": folder}


def _targets(rows: list[dict], problem: str, label2id: dict[str, int] | None) -> np.ndarray:
    if problem == "regression":
        return np.asarray([r["label"] for r in rows], dtype=np.float64)
    if problem == "multi_label_classification":
        out = np.zeros((len(rows), len(label2id)))
        for i, r in enumerate(rows):
            out[i, [label2id[n] for n in r["label"]]] = 1
        return out
    return np.asarray([label2id[str(r["label"])] for r in rows])


def score(model, tokenizer, rows: list[dict], problem: str) -> dict:
    """Metrics of ``model`` on ``rows``: swiftcls's ``compute_metrics`` and the threshold-free ranking metrics."""
    from swiftcls.metrics.classification import compute_metrics
    from swiftcls.metrics.curves import ranking_metrics

    model.eval()
    label2id = {str(k): int(v) for k, v in model.config.label2id.items()} if problem != "regression" else None
    logits = []
    with torch.no_grad():
        for start in range(0, len(rows), 64):
            chunk = rows[start:start + 64]
            pairs = [r["text_pair"] for r in chunk] if "text_pair" in chunk[0] else None
            batch = tokenizer([r["text"] for r in chunk], pairs, truncation=True, max_length=FIXED["max_length"],
                              padding=True, return_tensors="pt")
            logits.append(model(**batch).logits.float().numpy())
    logits, y = np.concatenate(logits), _targets(rows, problem, label2id)
    out = compute_metrics(problem, logits, y, model.config.id2label)
    if problem != "regression":
        out.update(ranking_metrics(logits, y, problem))
    return {k: v for k, v in out.items() if isinstance(v, float)}


def run_hf(data: dict, problem: str, seed: int, out: Path):
    """The plain recipe: AutoModelForSequenceClassification + Trainer with transformers' defaults."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    names = data["names"] or (sorted({str(r["label"]) for r in data["train"]}) if problem != "regression" else None)
    label2id = {n: i for i, n in enumerate(names)} if names else None
    tok = AutoTokenizer.from_pretrained(minilm_path())
    set_seed(seed)
    extra = {"id2label": dict(enumerate(names)), "label2id": label2id} if names else {}
    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_path(), num_labels=len(names) if names else 1, problem_type=problem, **extra)
    y = _targets(data["train"], problem, label2id)
    train = []
    for r, target in zip(data["train"], y):
        enc = tok(r["text"], r.get("text_pair"), truncation=True, max_length=FIXED["max_length"])
        train.append({**enc, "labels": target.tolist() if problem != "single_label_classification" else int(target)})
    args = TrainingArguments(output_dir=str(out), num_train_epochs=FIXED["num_train_epochs"],
                             per_device_train_batch_size=FIXED["per_device_train_batch_size"],
                             learning_rate=FIXED["learning_rate"], seed=seed, save_strategy="no", report_to=[],
                             logging_steps=50, disable_tqdm=True, use_cpu=True)
    Trainer(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(tok)).train()
    return model, tok


def run_swiftcls(data: dict, problem: str, seed: int, out: Path, flags: dict):
    """``swiftcls sft`` with the fixed settings and ``flags``; the last checkpoint, loaded by plain transformers."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from swiftcls.commands.sft import sft_main

    options = {"model": str(minilm_path()), "dataset": [str(data["folder"] / "train.jsonl")], "tuner_type": "full",
               "problem_type": problem, "seed": seed, "output_dir": str(out), "disable_tqdm": True,
               "use_cpu": True, **FIXED, **flags}
    if data["names"]:
        options["labels"] = [str(data["folder"] / "labels.txt")]
    summary = sft_main(options)
    ckpt = summary["last_model_checkpoint"]
    return AutoModelForSequenceClassification.from_pretrained(ckpt), AutoTokenizer.from_pretrained(ckpt)


def study(args) -> None:
    out = Path(args.out)
    done = set()
    if out.exists():
        done = {(r["set"], r["recipe"], r["seed"]) for r in map(json.loads, out.read_text().splitlines())}
    work = Path(tempfile.mkdtemp(prefix="defaults_study-"))
    try:
        prepared = {name: prepare(name, args.train_rows, args.dev_rows, work / name) for name in args.sets}
        # Seed-major: every set and recipe has one seed before any gets a second, so a study stopped early still
        # compares all of them.
        for seed in args.seeds:
            for name, data in prepared.items():
                for recipe in args.recipes:
                    if (name, recipe, seed) in done:
                        continue
                    run_dir = work / f"{name}-{recipe}-{seed}"
                    start = time.perf_counter()
                    if recipe == "hf":
                        model, tok = run_hf(data, PROBLEM[name], seed, run_dir)
                    else:
                        model, tok = run_swiftcls(data, PROBLEM[name], seed, run_dir, RECIPES[recipe])
                    row = {"set": name, "recipe": recipe, "seed": seed, "train_rows": len(data["train"]),
                           "dev_rows": len(data["dev"]), "seconds": round(time.perf_counter() - start, 1),
                           **score(model, tok, data["dev"], PROBLEM[name])}
                    with open(out, "a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
                    shutil.rmtree(run_dir, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


HEADLINE = {"sst2": ("accuracy", "f1_macro", "roc_auc"), "goemotions": ("f1_micro", "roc_auc_macro",
                                                                       "average_precision_macro"),
            "stsb": ("pearson", "spearman")}


def report(path: str) -> None:
    """A markdown table: mean +- std over seeds of each set's headline metrics, per recipe."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
    print("| set | recipe | seeds | " + " | ".join(["metric 1", "metric 2", "metric 3"]) + " |")
    print("|---|---|---|---|---|---|")
    for name in SETS:
        recipes = list(dict.fromkeys(r["recipe"] for r in rows if r["set"] == name))
        for recipe in recipes:
            runs = [r for r in rows if r["set"] == name and r["recipe"] == recipe]
            cells = []
            for metric in HEADLINE[name]:
                values = [r[metric] for r in runs if metric in r]
                if values:
                    std = statistics.stdev(values) if len(values) > 1 else 0.0
                    cells.append(f"{metric} {statistics.mean(values):.4f} ± {std:.4f}")
            cells += [""] * (3 - len(cells))
            print(f"| {name} | {recipe} | {len(runs)} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--recipes", nargs="+", default=["hf", "swiftcls"], choices=["hf", *RECIPES])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--train_rows", type=int, default=2000)
    parser.add_argument("--dev_rows", type=int, default=1000)
    parser.add_argument("--out", default="defaults_study.jsonl")
    parser.add_argument("--report", action="store_true", help="print the table of --out and exit")
    args = parser.parse_args()
    if args.report:
        report(args.out)
    else:
        study(args)


if __name__ == "__main__":
    main()
