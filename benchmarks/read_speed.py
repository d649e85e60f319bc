"""Reading speed of ``swiftcls sft``'s first data step: a JSONL file to the validated-rows Arrow file (issue #13).

Writes ``--rows`` rows as ``data_scale.py`` does (real SST-2 sentences joined 1-4 per row), then, in this one process
and interleaved per round, reads it with the Python reader (``iter_examples`` -> ``write_examples``, what main used)
and with ``write_rows`` (the pyarrow fast path of swiftcls/data/fast_jsonl.py), checks that both wrote the same
table and label summary, and prints seconds and rows/s of each (min over rounds). Example (shared 2-core box)::

    OMP_NUM_THREADS=1 python benchmarks/read_speed.py --rows 1000000 --rounds 1
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

from swiftcls.data.arrow import write_examples  # noqa: E402
from swiftcls.data.dataset import iter_examples  # noqa: E402
from swiftcls.data.fast_jsonl import write_rows  # noqa: E402
from swiftcls.data.prepare import LabelSummary  # noqa: E402
from swiftcls.data.readers import ReadOptions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        data = os.path.join(work, "rows.jsonl")
        write_jsonl(data, args.rows)
        print(f"# {args.rows} rows: {os.path.getsize(data) / 2**20:.1f} MiB", flush=True)
        times: dict[str, list[float]] = {"python": [], "fast": []}
        for _ in range(args.rounds):
            summaries, tables = {}, {}
            for tool in times:
                summaries[tool] = LabelSummary()
                start = time.perf_counter()
                if tool == "python":
                    rows = write_examples(iter_examples([data], ReadOptions(), {}), f"{work}/{tool}.arrow",
                                          summaries[tool].add)
                else:
                    rows, fast = write_rows([data], ReadOptions(), {}, f"{work}/{tool}.arrow", summaries[tool].add)
                    assert fast == [True], "the fast path fell back"
                times[tool].append(time.perf_counter() - start)
                tables[tool] = rows.data.table
            assert tables["python"].equals(tables["fast"]), "the two readers wrote different tables"
            assert summaries["python"].parsed == summaries["fast"].parsed, "different label summaries"
        for tool, spent in times.items():
            print(f"{tool}: {min(spent):.2f} s, {args.rows / min(spent):,.0f} rows/s", flush=True)
        print(f"speed-up: {min(times['python']) / min(times['fast']):.1f}x (same table, same label summary)")


if __name__ == "__main__":
    main()
