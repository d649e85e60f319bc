"""Check the GPU targets from the JSON files ``benchmarks/run_gpu.sh`` wrote, and write them as one file.

Targets (one H100/H200, bf16): training on mixed lengths >= 2x the plain HF recipe's non-pad tokens/s; full
fine-tuning of the 1.5B shape at >= 40% MFU; inference >= 3x ``pipeline("text-classification")`` rows/s; 7B LoRA
with every row 2,048 tokens in <= 80 GB. A missing file (a run that failed or was not picked) is reported as such.

    python benchmarks/gpu_summary.py bench_out [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path


def _results(out: Path, name: str) -> dict | None:
    path = out / name
    if not path.is_file():
        return None
    return {r["recipe"].split(" ")[0]: r for r in json.loads(path.read_text())["results"]}


def targets(out: Path) -> list[dict]:
    """One entry per target: what was measured, the bar, and whether it was met (None: not measured)."""
    checks = []

    def add(name: str, value, bar: float, higher: bool, unit: str) -> None:
        met = None if value is None else (value >= bar if higher else value <= bar)
        checks.append({"target": name, "value": value, "bar": bar, "unit": unit, "met": met})

    train = _results(out, "train_mixed.json")
    add("training, mixed lengths: swiftcls / HF recipe non-pad tokens/s",
        train and train["swiftcls"]["tokens/s"] / train["hf"]["tokens/s"], 2.0, True, "x")
    mfu = _results(out, "train_mfu.json")
    add("full fine-tuning MFU, 1.5B shape", mfu and mfu["swiftcls"]["MFU"], 0.40, True, "fraction")
    infer = _results(out, "infer_mixed.json")
    add("inference: swiftcls / pipeline rows/s",
        infer and infer["swiftcls"]["samples/s"] / infer["pipeline"]["samples/s"], 3.0, True, "x")
    lora = _results(out, "train_7b_lora.json")
    add("7B LoRA, 2,048-token rows, gradient checkpointing: peak memory",
        lora and lora["swiftcls"]["peak_mem_GiB"] * 2**30 / 1e9, 80.0, False, "GB")
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--dry-run", action="store_true", help="tiny CPU shapes: the bars do not apply")
    args = parser.parse_args()
    checks = targets(args.out)
    summary = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(),
               "dry_run": args.dry_run, "targets": checks,
               "runs": {p.stem: json.loads(p.read_text()) for p in sorted(args.out.glob("*.json"))
                        if p.name != "gpu_results.json"}}
    (args.out / "gpu_results.json").write_text(json.dumps(summary, indent=2) + "\n")
    for c in checks:
        value = "not measured" if c["value"] is None else f"{c['value']:.3g}"
        verdict = "-" if c["met"] is None or args.dry_run else ("met" if c["met"] else "NOT met")
        print(f"{c['target']}: {value} (bar {c['bar']} {c['unit']}) {verdict}")
    print(f"wrote {args.out / 'gpu_results.json'}")


if __name__ == "__main__":
    main()
