"""Data at scale: wall time to the first optimizer step and peak RSS of ``swiftcls sft`` against the plain Hugging
Face recipe, as the training file grows (issue #13).

For each ``--rows`` count it writes a JSONL file of real SST-2 sentences joined 1-4 per row (the label is the first
sentence's SST-2 label), saves the seeded random ``--shape`` Qwen2 with the real Qwen tokenizer, and runs, each in a
fresh process, in interleaved rounds:

* ``swiftcls``: ``swiftcls sft --max_steps 1`` (``--swiftcls_flags`` adds e.g. ``--streaming true``);
* ``hf``: ``datasets.load_dataset("json")`` + ``.map(batched=True, num_proc=--num_proc)`` tokenizing to
  ``--max_length`` + ``Trainer`` (``DataCollatorWithPadding``, ``max_steps=1``), same model and batch size.

Each tool runs twice per round on the same file with the same (per-round, initially empty) ``HF_DATASETS_CACHE``:
``cold`` then ``warm`` (what a cache saves; ``cache_hit`` says whether the HF recipe's ``map`` reused its files).
Reported per run: seconds from process start to the end of the first
optimizer step (a ``TrainerCallback.on_step_end`` timestamp) and the peak RSS of the process tree's largest process
(``wait4``'s ``ru_maxrss``, what ``/usr/bin/time -v`` prints; ``map`` workers included as their own maximum); then
min/median over rounds and swiftcls / hf ratios. Example (CPU, shared 2-core box)::

    OMP_NUM_THREADS=1 python benchmarks/data_scale.py --rows 100000 1000000 --rounds 3
    OMP_NUM_THREADS=1 python benchmarks/data_scale.py --rows 2000 --rounds 1   # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import common as C  # noqa: E402

TOOLS = ("swiftcls", "hf")


def write_rows(path: str, n: int, seed: int = 0) -> None:
    """``n`` JSONL rows of 1-4 real SST-2 sentences (the phrase fragments left out), labelled by the first."""
    lines = (C.SHARED / "data" / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    pool = [(s.strip(), int(y)) for y, s in (line.split("\t", 1) for line in lines)
            if len(s.split()) >= 4]
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n):
            parts = [rng.choice(pool) for _ in range(rng.randint(1, 4))]
            f.write(json.dumps({"text": " ".join(s for s, _ in parts), "label": parts[0][1]}) + "\n")


class FirstStep:
    """A ``TrainerCallback`` writing the wall-clock time of the first optimizer step's end to ``path``."""

    def __init__(self, path: str):
        from transformers import TrainerCallback

        outer = self

        class _Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == 1 and not os.path.exists(outer.path):
                    Path(outer.path).write_text(repr(time.time()))

        self.path, self.callback = path, _Callback()


def child_swiftcls(model: str, data: str, out: str, stamp: str, args) -> None:
    """``swiftcls sft`` in this process, with the first-step clock added to its callbacks."""
    import logging

    from swiftcls.commands import sft

    logging.basicConfig(level=logging.INFO)  # as the CLI does: the log says "data cache hit: <path>"
    clock = FirstStep(stamp)
    make = sft._callbacks
    sft._callbacks = lambda *a, **k: [*make(*a, **k), clock.callback]
    flags = ["--model", model, "--dataset", data, "--output_dir", os.path.join(out, "run"), "--max_steps", "1",
             "--max_length", str(args.max_length), "--per_device_train_batch_size", str(args.batch_size),
             "--use_cpu", "true", "--save_strategy", "no", "--report_to", "none", "--disable_tqdm", "true"]
    if _has_flag("dataset_num_proc"):
        flags += ["--dataset_num_proc", str(args.num_proc)]
    sft.sft_main(flags + args.swiftcls_flags.split())


def _has_flag(name: str) -> bool:
    """Whether this checkout's ``swiftcls sft`` has ``--name`` (the benchmark runs on branches before and after)."""
    from swiftcls.config.sft import SftArguments

    return name in SftArguments.__dataclass_fields__


def child_hf(model: str, data: str, out: str, stamp: str, args) -> None:
    """The plain recipe: ``load_dataset("json")`` + batched ``map`` on ``num_proc`` processes + ``Trainer``."""
    from datasets import load_dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    start = time.time()
    tok = AutoTokenizer.from_pretrained(model)
    tok.pad_token = tok.pad_token or "<|endoftext|>"
    rows = load_dataset("json", data_files=data, split="train")
    max_length = args.max_length  # not args in the closure: datasets hashes it into map's cache fingerprint

    def tokenize(batch):
        return tok(batch["text"], truncation=True, max_length=max_length)

    rows = rows.map(tokenize, batched=True, num_proc=args.num_proc, remove_columns=["text"])
    rows = rows.rename_column("label", "labels")
    # A cache hit reuses map's Arrow files from an earlier run: all of them predate this process.
    hit = all(os.path.getmtime(f["filename"]) < start for f in rows.cache_files)
    Path(out, "cache_hit").write_text(json.dumps(hit))
    net = AutoModelForSequenceClassification.from_pretrained(model, num_labels=2, pad_token_id=tok.pad_token_id)
    targs = TrainingArguments(os.path.join(out, "run"), max_steps=1, per_device_train_batch_size=args.batch_size,
                              use_cpu=True, save_strategy="no", report_to="none", disable_tqdm=True, learning_rate=2e-5)
    Trainer(model=net, args=targs, train_dataset=rows, data_collator=DataCollatorWithPadding(tok),
            callbacks=[FirstStep(stamp).callback]).train()


def run(tool: str, model: str, data: str, cache: str, work: str, args) -> dict:
    """One run of ``tool`` in a fresh process: seconds to the first step, total seconds, peak RSS (MiB)."""
    out = tempfile.mkdtemp(dir=work, prefix=f"{tool}_")
    stamp = os.path.join(out, "first_step")
    argv = [sys.executable, __file__, "--child", tool, model, data, out, "--max_length", str(args.max_length),
            "--batch_size", str(args.batch_size), "--num_proc", str(args.num_proc),
            "--swiftcls_flags=" + args.swiftcls_flags]
    env = {**os.environ, "HF_DATASETS_CACHE": cache, "TQDM_DISABLE": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}
    start = time.time()
    with open(os.path.join(out, "log.txt"), "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # ru_maxrss of the child and its waited-for descendants
    proc.returncode = os.waitstatus_to_exitcode(status)
    end = time.time()
    if proc.returncode:
        raise RuntimeError(f"{tool} failed ({proc.returncode}); log: {Path(out, 'log.txt').read_text()[-3000:]}")
    first = float(Path(stamp).read_text())
    return {"first_step_s": first - start, "total_s": end - start, "peak_rss_MiB": usage.ru_maxrss / 1024,
            "cache_hit": _cache_hit(tool, out, "--streaming" in args.swiftcls_flags)}


def _cache_hit(tool: str, out: str, streaming: bool) -> bool | None:
    """Whether the run reused prepared data: the HF child writes it; swiftcls logs ``data cache hit: <path>``
    (streamed runs prepare nothing, so they have no hit to report)."""
    if tool == "hf":
        return json.loads(Path(out, "cache_hit").read_text())
    log = Path(out, "log.txt").read_text(errors="replace")
    return None if streaming else "data cache hit:" in log


def summarize(results: list[dict]) -> list[dict]:
    """min / median over rounds per (rows, tool, run), with swiftcls / hf ratios of the medians."""
    table = []
    keys = sorted({(r["rows"], r["run"]) for r in results})
    for rows, kind in keys:
        med = {}
        for tool in TOOLS:
            sel = [r for r in results if (r["rows"], r["run"], r["tool"]) == (rows, kind, tool)]
            if not sel:
                continue
            first, rss = [r["first_step_s"] for r in sel], [r["peak_rss_MiB"] for r in sel]
            med[tool] = statistics.median(first), statistics.median(rss)
            table.append({"rows": rows, "run": kind, "tool": tool, "rounds": len(sel), "first_step_s_min": min(first),
                          "first_step_s_med": med[tool][0], "peak_rss_MiB_min": min(rss),
                          "peak_rss_MiB_med": med[tool][1]})
        if len(med) == 2:
            table.append({"rows": rows, "run": kind, "tool": "swiftcls/hf",
                          "first_step_s_med": med["swiftcls"][0] / med["hf"][0],
                          "peak_rss_MiB_med": med["swiftcls"][1] / med["hf"][1]})
    return table


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="tiny", choices=C.SHAPES)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--num_proc", type=int, default=2, help="map processes (the HF recipe's num_proc; "
                                                                 "swiftcls's --dataset_num_proc where it has it)")
    parser.add_argument("--swiftcls_flags", default="", help="extra swiftcls sft flags, e.g. '--streaming true'")
    parser.add_argument("--no_warm", action="store_true", help="skip the second (cache) run of each tool")
    parser.add_argument("--workdir", default=None, help="where data, models and caches go (default: a temp dir)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--child", nargs=4, metavar=("TOOL", "MODEL", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        tool, model, data, out = args.child
        (child_swiftcls if tool == "swiftcls" else child_hf)(model, data, out, os.path.join(out, "first_step"), args)
        return []
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        model = os.path.join(work, "model")
        from transformers import AutoModelForCausalLM

        torch.manual_seed(0)
        AutoModelForCausalLM.from_config(C.model_config(args.shape)).save_pretrained(model)
        C.tokenizer().save_pretrained(model)
        results = []
        for n in args.rows:
            data = os.path.join(work, f"rows_{n}.jsonl")
            write_rows(data, n)
            print(f"# {n} rows: {os.path.getsize(data) / 2**20:.1f} MiB", flush=True)
            for round_ in range(args.rounds):
                # Alternate which tool goes first, so a load change on the shared box hits both alike.
                for tool in args.tools if round_ % 2 == 0 else args.tools[::-1]:
                    cache = tempfile.mkdtemp(dir=work, prefix="cache_")
                    for kind in ("cold",) if args.no_warm else ("cold", "warm"):
                        row = {"rows": n, "round": round_, "tool": tool, "run": kind,
                               **run(tool, model, data, cache, work, args)}
                        results.append(row)
                        print(json.dumps(row), flush=True)
            os.remove(data)
    load = os.getloadavg()
    print(f"\nmachine: {C.machine('cpu')}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    table = summarize(results)
    C.print_table(table, ["rows", "run", "tool", "rounds", "first_step_s_min", "first_step_s_med",
                          "peak_rss_MiB_min", "peak_rss_MiB_med"])
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": C.machine("cpu"), "load": load, "results": results,
                                               "summary": table}, indent=2))
    return table


if __name__ == "__main__":
    main()
