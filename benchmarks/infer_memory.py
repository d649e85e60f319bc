"""Peak memory of ``swiftcls infer`` as the input file grows: streamed reading keeps it flat.

Saves the seeded random ``--shape`` Qwen2 classifier with the real Qwen tokenizer, writes JSONL files of real SST-2
sentences (cycled) with each ``--rows`` count, and runs ``swiftcls infer`` on each in a fresh process. It reports
the child's peak RSS and rows/s for two ways of reading the input:

* ``stream``: what ``swiftcls infer`` does (rows parsed, predicted and written 4,096 at a time);
* ``whole``: the same run with the whole file parsed into examples first (swiftcls before streaming, and what a
  script that reads the file into a list does), everything else identical.

Example (CPU)::

    OMP_NUM_THREADS=1 python benchmarks/infer_memory.py --rows 5000 40000 --extra_bytes 16384
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import common as C  # noqa: E402


def child(mode: str, model: str, data: str, batch_size: int) -> dict:
    """Run ``swiftcls infer`` in this process and report its peak RSS."""
    from swiftcls.commands import infer
    from swiftcls.data import dataset

    if mode == "whole":  # parse every row before predicting, as before streaming
        infer.iter_examples = lambda *a, **k: list(dataset.iter_examples(*a, **k))
    start = time.perf_counter()
    summary = infer.infer_main(["--model", model, "--dataset", data, "--device", "cpu", "--batch_size",
                                str(batch_size), "--result_path", data + ".pred"])
    seconds = time.perf_counter() - start
    return {"rows": summary["rows"], "seconds": seconds,
            "peak_rss_MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="tiny", choices=C.SHAPES)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 40_000])
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--extra_bytes", type=int, default=0,
                        help="give each row a 'meta' field of this many characters (ids, source text, ... that "
                             "infer copies to its output); makes the file large without more model work")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "MODEL", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child, args.batch_size)))
        return []
    tok = C.tokenizer()
    sentences = C.texts("sst2", 4096, 128, tok)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = os.path.join(tmp, "model")
        C.build_model(args.shape, torch.float32, "cpu", 0).save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
        for n in args.rows:
            data = os.path.join(tmp, f"rows_{n}.jsonl")
            with open(data, "w", encoding="utf-8") as f:
                for i, text in enumerate(itertools.islice(itertools.cycle(sentences), n)):
                    meta = {"meta": f"{i:08d}" * (args.extra_bytes // 8)} if args.extra_bytes else {}
                    f.write(json.dumps({"text": text, **meta}) + "\n")
            for mode in ("stream", "whole"):
                out = subprocess.run([sys.executable, __file__, "--child", mode, model_dir, data, "--batch_size",
                                      str(args.batch_size)], check=True, capture_output=True, text=True,
                                     env={**os.environ, "TQDM_DISABLE": "1"})
                row = json.loads(out.stdout.strip().splitlines()[-1])
                results.append({"mode": mode, "rows": n, "file_MiB": os.path.getsize(data) / 2**20,
                                "peak_rss_MiB": row["peak_rss_MiB"], "rows_per_s": n / row["seconds"]})
                print(json.dumps(results[-1]), flush=True)
    C.print_table(results, ["mode", "rows", "file_MiB", "peak_rss_MiB", "rows_per_s"])
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": C.machine("cpu"), "results": results}, indent=2))
    return results


if __name__ == "__main__":
    main()
