"""Speed of ``swiftcls sft``'s label step: the validated-rows Arrow file to the rows with encoded labels (issue #13).

Writes ``--rows`` rows as ``data_scale.py`` does (real SST-2 sentences joined 1-4 per row), reads them with the JSONL
fast path, then, in this one process and interleaved per round, encodes the labels with the ``datasets.map`` over
every row that main used (``prepare._encode_labels`` per batch of 1000 rows) and with the vectorised
``prepare.encode_labels``, checks that both wrote the same table, and prints seconds and rows/s of each (min over
rounds). ``--split`` also times a stratified split's train selection (what ``--split_dataset_ratio`` feeds it).
Example (shared 2-core box)::

    OMP_NUM_THREADS=1 python benchmarks/label_speed.py --rows 1000000 --rounds 1 --split 0.01
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data_scale import write_rows as write_jsonl  # noqa: E402
from datasets import Features, Value  # noqa: E402

from swiftcls.core.labels import LabelSpace  # noqa: E402
from swiftcls.data import prepare  # noqa: E402
from swiftcls.data.arrow import ERROR, write_examples  # noqa: E402
from swiftcls.data.fast_jsonl import write_rows  # noqa: E402
from swiftcls.data.readers import ReadOptions  # noqa: E402


def old_encode_labels(data, space, path):
    """The label map of main (``--dataset_num_proc 1``)."""
    features = Features({**data.features, "labels": prepare.label_feature(space.problem_type), ERROR: Value("string")})
    return data.map(prepare._encode_labels, fn_kwargs={"space": space}, batched=True, batch_size=prepare.MAP_BATCH,
                    features=features, cache_file_name=path, new_fingerprint="old", load_from_cache_file=False,
                    desc="Encoding labels (map)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--split", type=float, default=0.0, help="also time a split's train rows (a selection)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        data = os.path.join(work, "rows.jsonl")
        write_jsonl(data, args.rows)
        summary = prepare.LabelSummary()
        rows, fast = write_rows([data], ReadOptions(), {}, f"{work}/read.arrow", summary.add, write=write_examples)
        assert fast == [True], "the fast path fell back"
        space = LabelSpace.infer(summary.parsed)
        inputs = {"all rows": (rows, None)}  # (read rows, the indices a split takes from them)
        if args.split:
            inputs["split train"] = (rows, prepare.split_indices(rows, args.split, space)[0])
        print(f"# {args.rows} rows: {os.path.getsize(data) / 2**20:.1f} MiB of JSONL, "
              f"{os.path.getsize(f'{work}/read.arrow') / 2**20:.1f} MiB read table", flush=True)
        for name, (read, indices) in inputs.items():
            part = read if indices is None else read.select(indices)  # what the map read (main: a selection)
            times: dict[str, list[float]] = {"map (main)": [], "vectorised": []}
            for r in range(args.rounds):
                tables = {}
                for tool in times:
                    path = f"{work}/{r}-{tool[0]}-{len(times[tool])}-{name[0]}.arrow"
                    start = time.perf_counter()
                    if tool == "vectorised":
                        out = prepare.encode_labels(read, space, path, "new", rows=indices)
                    else:
                        out = old_encode_labels(part, space, path)
                    times[tool].append(time.perf_counter() - start)
                    tables[tool] = out.data.table
                assert tables["map (main)"].equals(tables["vectorised"]), "the two label steps wrote different tables"
                del tables
            for tool, spent in times.items():
                print(f"{name} ({len(part)} rows), {tool}: {min(spent):.2f} s, {len(part) / min(spent):,.0f} rows/s",
                      flush=True)
            print(f"{name}: speed-up {min(times['map (main)']) / min(times['vectorised']):.1f}x (same table)",
                  flush=True)


if __name__ == "__main__":
    main()
