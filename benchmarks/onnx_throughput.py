"""CPU inference: swiftcls's PyTorch path against its ONNX exports (float32 and dynamic int8), real weights, real text.

One run fine-tunes a real model briefly on SST-2 (``swiftcls sft``), exports it with ``swiftcls export --to onnx``
twice (float32, ``--onnx_quantize int8``), then times ``Classifier.predict_proba`` over the SST-2 dev sentences with
each backend in interleaved rounds (tokenization included; the same rows, batch size and thread count). It reports
rows/s and non-pad tokens/s (min and median over rounds), the ratio to PyTorch, dev accuracy of each backend and the
largest probability difference to PyTorch, the share of rows whose class equals PyTorch's, and the 1-minute load
average after each round. ``--checkpoint`` times an existing fine-tuned checkpoint instead of training one.
``--heldout_rows N`` also scores every backend on N SST-2 train sentences that follow the training rows in the same
seeded shuffle (never trained on), and reports each backend's accuracy difference to PyTorch with its paired standard
error: on 869 dev rows one point is 9 rows, too few to tell a 0.5-point int8 loss from luck.

Example (2-core CPU; on a shared box prefer ``OMP_NUM_THREADS=1``: two threads that wait on each other's barrier
lose far more to other processes than one)::

    OMP_NUM_THREADS=2 python benchmarks/onnx_throughput.py --model minilm --rounds 3
    OMP_NUM_THREADS=2 python benchmarks/onnx_throughput.py --model smollm2 --rounds 3 --train_rows 1000
    OMP_NUM_THREADS=1 python benchmarks/onnx_throughput.py --model minilm --checkpoint out/checkpoint-9 --time_rows 320
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import common as C  # noqa: E402

from swiftcls import Classifier, export_main, sft_main  # noqa: E402
from swiftcls.data.dataset import Example  # noqa: E402
from tests.assets import minilm_path, smollm2_path  # noqa: E402

MODELS = {"minilm": (minilm_path, "full", "5e-5"), "smollm2": (smollm2_path, "lora", "2e-4")}


def sst2(split: str, n: int | None, seed: int = 0) -> list[dict]:
    """SST-2 rows (``text``, ``label``) from ../shared: the first ``n`` of a seeded shuffle of full sentences."""
    lines = (C.SHARED / "data" / "sst2" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()[1:]
    rows = [{"text": t.strip(), "label": int(label)} for label, t in (line.split("\t", 1) for line in lines)]
    rows = [r for r in rows if len(r["text"].split()) >= 4]  # the phrase-level train rows are fragments
    np.random.default_rng(seed).shuffle(rows)
    return rows[:n] if n else rows


def timed(clf: Classifier, texts: list[str], batch_size: int) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    probs = clf.predict_proba(texts, batch_size=batch_size)
    return time.perf_counter() - start, probs


def heldout(clfs: dict, skip: int, n: int, batch_size: int) -> dict:
    """Accuracy of each backend on ``n`` SST-2 train rows after the first ``skip`` (the training rows), and its
    paired difference to PyTorch's in points with the standard error of that difference."""
    rows = sst2("train", skip + n)[skip:]
    texts, labels = [r["text"] for r in rows], np.array([r["label"] for r in rows])
    right = {name: clf.predict_proba(texts, batch_size=batch_size).argmax(-1) == labels for name, clf in clfs.items()}
    out = {"rows": len(rows)}
    for name, ok in right.items():
        delta = ok.astype(float) - right["pt"]
        out[name] = {"accuracy": round(float(ok.mean()), 4), "minus_pt_points": round(100 * float(delta.mean()), 2),
                     "standard_error_points": round(100 * float(delta.std(ddof=1) / np.sqrt(len(rows))), 2)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="minilm", choices=list(MODELS))
    parser.add_argument("--train_rows", type=int, default=2000)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", default=None, help="keep the run and exports here (default: a temp folder)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--checkpoint", default=None,
                        help="time this fine-tuned checkpoint (a full model folder or LoRA adapters of --model) "
                             "instead of training one")
    parser.add_argument("--time_rows", type=int, default=0,
                        help="time the first N dev rows (default all); accuracy is always on the whole dev set")
    parser.add_argument("--heldout_rows", type=int, default=0,
                        help="also score N held-out SST-2 train sentences (after the --train_rows the checkpoint "
                             "was trained on)")
    args = parser.parse_args()
    path, tuner, lr = MODELS[args.model]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="onnx-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    train = work / "train.jsonl"
    if not args.checkpoint:
        train.write_text("".join(json.dumps(r) + "\n" for r in sst2("train", args.train_rows)), encoding="utf-8")
    dev = sst2("dev", None)
    texts, labels = [r["text"] for r in dev], np.array([r["label"] for r in dev])

    start = time.perf_counter()
    run = {"last_model_checkpoint": args.checkpoint} if args.checkpoint else sft_main(
        ["--model", str(path()), "--dataset", str(train), "--tuner_type", tuner, "--learning_rate", lr,
         "--num_train_epochs", "1", "--max_length", str(args.max_length), "--output_dir", str(work / "run"),
         "--use_cpu", "true", "--eval_strategy", "no", "--save_strategy", "no", "--per_device_train_batch_size", "16"])
    ckpt = Path(run["last_model_checkpoint"])
    source = {"adapters" if (ckpt / "adapter_config.json").is_file() else "model": str(ckpt)}
    train_s = time.perf_counter() - start
    exports = {}
    for quant in ("none", "int8"):
        start = time.perf_counter()
        exports[quant] = export_main({**source, "to": "onnx", "onnx_quantize": quant,
                                      "output_dir": str(work / f"onnx-{quant}")})
        exports[quant + "_s"] = time.perf_counter() - start
    clfs = {"pt": Classifier.from_pretrained(**({"path": source["model"]} if "model" in source else source),
                                             device="cpu"),
            "onnx-fp32": Classifier.from_pretrained(exports["none"], infer_backend="onnxruntime"),
            "onnx-int8": Classifier.from_pretrained(exports["int8"], infer_backend="onnxruntime")}
    probs = {name: clf.predict_proba(texts, batch_size=args.batch_size) for name, clf in clfs.items()}  # + warm-up
    timed_texts = texts[: args.time_rows] if args.time_rows else texts
    tokens = sum(len(r["input_ids"]) for r in clfs["pt"].encode([Example(t) for t in timed_texts]))
    seconds = {k: [] for k in clfs}
    loads = []
    for _ in range(args.rounds):  # interleaved: every backend once per round
        for name, clf in clfs.items():
            seconds[name].append(timed(clf, timed_texts, args.batch_size)[0])
        loads.append(round(os.getloadavg()[0], 2))
    results = {"model": args.model, "rows": len(timed_texts), "dev_rows": len(texts), "non_pad_tokens": tokens,
               "threads": torch.get_num_threads(), "load_avg_1min_per_round": loads,
               "batch_size": args.batch_size, "train_rows": None if args.checkpoint else args.train_rows,
               "train_s": round(train_s, 1),
               "export_s": {q: round(exports[q + "_s"], 1) for q in ("none", "int8")},
               "onnx_bytes": {q: (Path(exports[q]) / "model.onnx").stat().st_size for q in ("none", "int8")},
               "backends": {}}
    base = statistics.median(seconds["pt"])
    for name, s in seconds.items():
        results["backends"][name] = {
            "rows_per_s_median": round(len(timed_texts) / statistics.median(s), 1),
            "rows_per_s_best": round(len(timed_texts) / min(s), 1),
            "tokens_per_s_median": round(tokens / statistics.median(s), 1),
            "speedup_vs_pt_median": round(base / statistics.median(s), 2),
            "speedup_vs_pt_per_round": [round(p / x, 2) for p, x in zip(seconds["pt"], s)],
            "accuracy": round(float((probs[name].argmax(-1) == labels).mean()), 4),
            "max_prob_diff_vs_pt": float(np.abs(probs[name] - probs["pt"]).max()),
            "same_class_as_pt": round(float((probs[name].argmax(-1) == probs["pt"].argmax(-1)).mean()), 4),
        }
    if args.heldout_rows:
        results["heldout"] = heldout(clfs, args.train_rows, args.heldout_rows, args.batch_size)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
