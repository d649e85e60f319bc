"""Speed of ``swiftcls sft``'s tokenizing map against the plain recipe's, the map alone (issue #13).

Writes ``--rows`` rows as ``data_scale.py`` does (real SST-2 sentences joined 1-4 per row), reads them with the JSONL
fast path, then, in this one process and interleaved per round, tokenizes them on ``--num_proc`` processes three
ways with the real Qwen tokenizer and ``--max_length`` 128:

* ``swiftcls``: ``prepare.tokenize`` as ``swiftcls sft`` runs it (lean chat prompts, forked workers inherit the
  encoder);
* ``swiftcls_pickled``: the same, with the encoder pickled to each worker (what spawned workers get, and what
  every run did before workers inherited it);
* ``hf``: the plain recipe's ``map`` of ``tokenizer(batch["text"], truncation=True, max_length=128)``, its
  closure capturing the tokenizer (so pickled to each worker, as in ``data_scale.py``).

Prints seconds per round and the median of each, with rows/s. Example (2-core box)::

    OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python benchmarks/map_speed.py --rows 200000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402
import datasets  # noqa: E402
from data_scale import write_rows as write_jsonl  # noqa: E402

from swiftcls.core.spec import load_specs  # noqa: E402
from swiftcls.data import prepare  # noqa: E402
from swiftcls.data.encode import PromptEncoder  # noqa: E402
from swiftcls.data.fast_jsonl import write_fast  # noqa: E402
from swiftcls.data.readers import ReadOptions  # noqa: E402


def recipe(tokenizer, max_length: int):
    """The recipe's map function: a closure over its tokenizer."""

    def tokenize(batch):
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    return tokenize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--num_proc", type=int, default=2)
    parser.add_argument("--max_length", type=int, default=128)
    args = parser.parse_args()
    datasets.disable_progress_bars()
    tokenizer = C.tokenizer()
    encoder = PromptEncoder(tokenizer, load_specs()["qwen2"], max_length=args.max_length)
    start_method = prepare._start_method
    times = {"swiftcls": [], "swiftcls_pickled": [], "hf": []}
    with tempfile.TemporaryDirectory() as work:
        write_jsonl(f"{work}/rows.jsonl", args.rows)
        data, _ = write_fast(f"{work}/rows.jsonl", ReadOptions(), {}, f"{work}/rows.arrow")
        for round_ in range(args.rounds):
            for name in times:
                out = f"{work}/{name}{round_}.arrow"
                begin = time.perf_counter()
                if name == "hf":
                    data.select_columns(["text", "label"]).map(
                        recipe(tokenizer, args.max_length), batched=True, num_proc=args.num_proc,
                        remove_columns=["text"], cache_file_name=out, new_fingerprint=f"hf{round_}")
                else:
                    prepare._start_method = start_method if name == "swiftcls" else (lambda: "spawn")
                    prepare.tokenize(data, encoder, out, f"{name}{round_}", args.num_proc)
                times[name].append(time.perf_counter() - begin)
            print(f"round {round_}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    prepare._start_method = start_method
    hf = statistics.median(times["hf"])
    print(f"\n{args.rows} rows, {args.num_proc} processes; machine: {C.machine('cpu')}")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:17s} min {min(seconds):6.2f} s  median {median:6.2f} s  {args.rows / median:9.0f} rows/s  "
              f"x{median / hf:.2f} the recipe's time")


if __name__ == "__main__":
    main()
