"""Label-name head vs random head on real weights: SmolLM2-135M-Instruct on SST-2 (docs/zero_shot.md).

Measures, on one fixed seeded subset of the SST-2 dev file:

* the majority class and the zero-shot accuracy (``swiftcls infer --zero_shot``: no training at all);
* k-shot accuracy (k balanced rows sampled from SST-2 train per seed) after LoRA training from a label-name head
  (``--head_init label_names``) and from a random head, the same prompt, data, seed and steps for both.

Every run scores the dev rows with swiftcls's own batched, packed prediction (``predict_logits``: length-sorted
batches of 32 rows for zero-shot, 32 at the end of ``sft``), so a run costs what the forward passes cost. Each
finished (shots, head_init, seed) cell is appended to ``--results`` (JSONL, with its seconds, load average and
date) and a rerun with the same settings skips it, so an interrupted grid resumes where it stopped. Seeds are the
outer loop: a grid cut short has every k at the seeds it finished.

Accuracy is not a timing, so the shared CPU only changes how long it takes. Example (repository root)::

    python benchmarks/zero_shot.py --dev_rows 300 --shots 32 64 128 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import shutil
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


def _done(path: Path) -> dict[tuple, dict]:
    """Finished cells of an earlier (interrupted) run, keyed by :func:`_key`: a rerun skips them."""
    if not path.exists():
        return {}
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {_key(r): r for r in records}


def _key(r: dict) -> tuple:
    # A cell is only reused when everything that decides its accuracy matches, so changed settings re-measure.
    return (r["shots"], r["head_init"], r["seed"], r["dev_rows"], r["epochs"], r["learning_rate"], r["batch_size"],
            r["system"])


def _record(path: Path, cell: dict, metrics: dict, seconds: float, extra: dict | None = None) -> dict:
    record = {**cell, "accuracy": metrics["accuracy"], "f1_macro": metrics["f1_macro"],
              "confusion_matrix": metrics["confusion_matrix"], "seconds": round(seconds, 1),
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(extra or {})}
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    return record


def _cell(record: dict) -> str:
    return (f"k={record['shots']} seed={record['seed']} head_init={record['head_init']}: accuracy "
            f"{record['accuracy']:.4f} ({record['seconds']:.0f} s, load {record['load_average'][0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dev_rows", type=int, default=300,
                        help="the first N of one seeded 300-row SST-2 dev sample (0: all 872 rows)")
    parser.add_argument("--shots", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=float, default=4)
    parser.add_argument("--learning_rate", type=float, default=2e-4)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--system", default=None, help="--system for every run (default: lean prompts)")
    parser.add_argument("--skip_zero_shot", action="store_true", help="only the k-shot runs")
    parser.add_argument("--table", action="store_true", help="print the table of --results and run nothing")
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/zero_shot_sst2.jsonl"),
                        help="JSONL, one line per finished (shots, head_init, seed) cell; cells already there "
                             "with the same settings are skipped (resume)")
    args = parser.parse_args()
    model = str(smollm2_path())
    data = shared_dir() / "data" / "sst2"
    dev = _rows(data / "dev.tsv")
    if args.dev_rows:  # nested subsets: the first 150 rows of the 300-row sample are the 150-row sample
        dev = random.Random(1234).sample(dev, max(args.dev_rows, 300))[:args.dev_rows]
    train = [r for r in _rows(data / "train.tsv") if len(r[1].split()) >= 4]  # whole sentences, not 1-word phrases
    majority = max(sum(y == c for y, _ in dev) for c in "01") / len(dev)
    common = {"dev_rows": len(dev), "epochs": args.epochs, "learning_rate": args.learning_rate,
              "batch_size": args.batch_size, "system": args.system}
    if args.table:
        _table(args.results, common, majority)
        return
    tmp = Path(tempfile.mkdtemp(prefix="zs-bench-"))
    dev_file = _write(dev, tmp / "dev.jsonl")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    done = _done(args.results)
    print(f"dev rows {len(dev)}; majority class {majority:.4f}; {len(done)} cells already in {args.results}",
          flush=True)
    system = {"system": args.system} if args.system is not None else {}
    zero = float("nan")
    if not args.skip_zero_shot:
        cell = {"shots": 0, "head_init": "label_names", "seed": 0, **common, "epochs": 0}
        record = done.get(_key(cell))
        if record is None:
            start = time.time()
            metrics = _quiet(infer_main, {
                "model": model, "zero_shot": True, "labels": LABELS, "dataset": [dev_file], **system,
                "result_path": str(tmp / "zero.jsonl"), "device": "cpu"})["metrics"]
            record = _record(args.results, cell, metrics, time.time() - start, {"majority": majority})
        zero = record["accuracy"]
        print(f"zero-shot (label-name head, step 0) {zero:.4f} ({record['seconds']:.0f} s)", flush=True)
    # Seeds outermost: a run cut short still has every k at the seeds it finished.
    for seed in args.seeds:
        for k in args.shots:
            train_file = _write(_balanced(train, k, seed), tmp / f"train-{k}-{seed}.jsonl")
            for init in ("label_names", "random"):
                cell = {"shots": k, "head_init": init, "seed": seed, **common}
                record = done.get(_key(cell))
                if record is None:
                    start = time.time()
                    out = tmp / f"run-{k}-{seed}-{init}"
                    summary = _quiet(sft_main, {
                        "model": model, "dataset": [train_file], "val_dataset": [dev_file], "labels": LABELS,
                        "head_init": init, "prompt": DEFAULT_PROMPT, "output_dir": str(out), "seed": seed,
                        "num_train_epochs": args.epochs, "learning_rate": args.learning_rate, **system,
                        "per_device_train_batch_size": args.batch_size, "per_device_eval_batch_size": 32,
                        "eval_strategy": "no", "save_strategy": "no", "logging_steps": 1000, "use_cpu": True,
                        "disable_tqdm": True, "report_to": "none"})
                    record = _record(args.results, cell, summary["metrics"], time.time() - start)
                    shutil.rmtree(out, ignore_errors=True)
                print(_cell(record), flush=True)
    _table(args.results, common, majority)


def _mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.4f} ± {std:.4f}"


def _table(path: Path, common: dict, majority: float) -> None:
    """Print the Markdown table of every cell in ``path`` measured with ``common``'s settings."""
    records = [r for r in _done(path).values()
               if all(r[name] == value for name, value in common.items() if name != "epochs")
               and r["epochs"] in (0, common["epochs"])]
    by_cell: dict[tuple[int, str], dict[int, float]] = {}
    for r in records:
        by_cell.setdefault((r["shots"], r["head_init"]), {})[r["seed"]] = r["accuracy"]
    print(f"\n{common['dev_rows']} dev rows; majority class {majority:.4f}")
    print("| k (train rows) | label-name head | random head | label-name - random (paired by seed) |")
    print("|---|---|---|---|")
    if (0, "label_names") in by_cell:
        print(f"| 0 (no training) | {by_cell[(0, 'label_names')][0]:.4f} | - | - |")
    for k in sorted({k for k, _ in by_cell if k}):
        named, rand = by_cell.get((k, "label_names"), {}), by_cell.get((k, "random"), {})
        cells = [f"{_mean_std(list(c.values()))} (n={len(c)}: "
                 + ", ".join(f"s{seed} {acc:.3f}" for seed, acc in sorted(c.items())) + ")" if c else "-"
                 for c in (named, rand)]
        diffs = [named[seed] - rand[seed] for seed in sorted(set(named) & set(rand))]
        cells.append(f"{_mean_std(diffs)} (" + ", ".join(f"{d:+.3f}" for d in diffs) + ")" if diffs else "-")
        print(f"| {k} | {' | '.join(cells)} |")

if __name__ == "__main__":
    main()
