"""Thresholds and calibration on real data: what ``--calibrate temperature`` and per-label thresholds buy.

all-MiniLM-L6-v2, full fine-tuning. For each dataset the dev file is cut in two: the first ``--val_rows`` rows are
sft's validation rows (where the temperature and the thresholds are fitted), the next ``--test_rows`` rows are
held out. On the held-out rows it reports ECE and Brier score of the raw and the calibrated probabilities (the same
checkpoint with and without its ``swiftcls_calibration`` field) and, for GoEmotions, macro/micro F1 at 0.5 and at
the tuned thresholds. Figures and the command are in docs/benchmarks.md.

    python benchmarks/calibration_study.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from assets import minilm_path, shared_dir  # noqa: E402

from swiftcls import eval_main, sft_main  # noqa: E402
from swiftcls.core.decisions import CALIBRATION_KEY, write_decisions  # noqa: E402

DATASETS = {
    "goemotions": {"train": "data/goemotions/train.tsv", "dev": "data/goemotions/dev.tsv",
                   "flags": ["--labels", "{shared}/data/goemotions/labels.txt", "--problem_type",
                             "multi_label_classification"]},
    "sst2": {"train": "data/sst2/train.tsv", "dev": "data/sst2/dev.tsv", "flags": ["--labels", "negative", "positive"]},
}


def split_dev(dev: Path, out: Path, val_rows: int, test_rows: int) -> tuple[str, str]:
    """The first ``val_rows`` data lines of ``dev`` and the next ``test_rows``, each with the header."""
    header, *lines = dev.read_text(encoding="utf-8").splitlines(keepends=True)
    val, test = out / "val.tsv", out / "test.tsv"
    val.write_text(header + "".join(lines[:val_rows]), encoding="utf-8")
    test.write_text(header + "".join(lines[val_rows:val_rows + test_rows]), encoding="utf-8")
    return str(val), str(test)


def run(name: str, seed: int, args, root: Path) -> dict:
    """One sft run and the held-out scores of its checkpoint with and without the temperature."""
    spec, shared = DATASETS[name], shared_dir()
    work = root / f"{name}-{seed}"
    work.mkdir()
    val, test = split_dev(shared / spec["dev"], work, args.val_rows, args.test_rows)
    flags = [f.format(shared=shared) for f in spec["flags"]]
    start = time.time()
    summary = sft_main(["--model", str(minilm_path()), "--dataset", f"{shared / spec['train']}#{args.train_rows}",
                        "--val_dataset", val, "--tuner_type", "full", "--learning_rate", str(args.lr),
                        "--num_train_epochs", str(args.epochs), "--max_length", "64", "--per_device_train_batch_size",
                        "16", "--seed", str(seed), "--data_seed", str(seed), "--output_dir", str(work / "run"),
                        "--save_strategy", "no", "--disable_tqdm", "true", "--use_cpu", "true", *flags])
    ckpt = summary["decisions_checkpoint"]
    calibrated = eval_main(["--model", ckpt, "--dataset", test, "--device", "cpu",
                            "--metrics_path", str(work / "cal.json")])["metrics"]
    raw_ckpt = work / "raw"
    shutil.copytree(ckpt, raw_ckpt)
    write_decisions(raw_ckpt, {CALIBRATION_KEY: None})
    raw = eval_main(["--model", str(raw_ckpt), "--dataset", test, "--device", "cpu",
                     "--metrics_path", str(work / "raw.json")])["metrics"]
    row = {"dataset": name, "seed": seed, "seconds": round(time.time() - start),
           "temperature": summary["metrics"]["calibration"]["temperature"],
           "ece_raw": raw["ece"], "ece_calibrated": calibrated["ece"],
           "brier_raw": raw["brier"], "brier_calibrated": calibrated["brier"]}
    if "thresholds" in calibrated:
        block = calibrated["thresholds"]
        row.update({k: block[k] for k in ("f1_macro_at_0.5", "f1_macro_tuned", "f1_micro_at_0.5", "f1_micro_tuned")})
        row["temperature"] = f"{min(row['temperature']):.2f}..{max(row['temperature']):.2f}"
    else:
        row["accuracy_raw"], row["accuracy_calibrated"] = raw["accuracy"], calibrated["accuracy"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--train_rows", type=int, default=3000)
    parser.add_argument("--val_rows", type=int, default=1000)
    parser.add_argument("--test_rows", type=int, default=1000)
    parser.add_argument("--epochs", type=float, default=2)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--out", default="calibration_study.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            for seed in args.seeds:
                rows.append(run(name, seed, args, Path(tmp)))
                print(json.dumps(rows[-1]), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
