"""Where an exported ONNX classifier spends its time: onnxruntime's own profiler, kernel time per operator type.

Runs the first ``--rows`` SST-2 dev sentences through ``model.onnx`` of a ``swiftcls export --to onnx`` folder twice,
in length-sorted batches as ``Classifier`` forms them, with the same thread count as the other benchmarks, and prints
the share of kernel time of each operator type. Example (the int8 export of ``onnx_throughput.py --workdir W``)::

    OMP_NUM_THREADS=2 python benchmarks/onnx_profile.py W/onnx-int8 --rows 64
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

import onnxruntime as ort
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from onnx_throughput import sst2  # noqa: E402

from swiftcls import Classifier  # noqa: E402
from swiftcls.data.dataset import Example  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", help="a swiftcls export --to onnx folder")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    clf = Classifier.from_pretrained(args.folder, infer_backend="onnxruntime")
    rows = clf.encode([Example(r["text"]) for r in sst2("dev", None)[: args.rows]])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp(prefix="onnx-profile-")) / "ort")
    clf.model.session = ort.InferenceSession(str(Path(args.folder) / "model.onnx"), options,
                                             providers=["CPUExecutionProvider"])
    for _ in range(2):
        clf.logits_rows(rows, batch_size=args.batch_size)
    events = json.loads(Path(clf.model.session.end_profiling()).read_text())
    per_op, calls = collections.Counter(), collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
            calls[event["args"]["op_name"]] += 1
    total = sum(per_op.values())
    runs = [round(e["dur"] / 1000) for e in events if e.get("name") == "model_run"]
    print(f"model runs (ms): {runs}; kernel time {total / 1000:.0f} ms")
    for op, micros in per_op.most_common(args.top):
        print(f"{op:30s} {micros / 1000:8.1f} ms {100 * micros / total:5.1f} %  calls {calls[op]}")


if __name__ == "__main__":
    main()
