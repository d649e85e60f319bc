"""int8 accuracy of a decoder's ONNX graph with and without SmoothQuant smoothing, variant by variant.

Takes a fine-tuned checkpoint and its float32 ONNX export (``swiftcls export --to onnx``), measures the calibration
ranges once on ``--calib_rows`` rows of the checkpoint's training file (formatted and batched as ``Classifier`` does),
then for each variant smooths a copy of the merged model, exports it with dynamic int8 and scores all SST-2 dev rows:
accuracy, share of rows whose class equals PyTorch's, largest probability difference, rows/s of the dev pass.

Variants are ``<alpha>:<pairs>:<down_proj>``: alpha 0 = no smoothing; pairs ``norms`` (the spec's norm -> q/k/v and
norm -> gate/up) or ``norms+down`` (also up_proj -> down_proj); down_proj ``fp32`` (the spec's onnx_int8_exclude) or
``int8``. Example (the 1,000-row SST-2 LoRA of ``onnx_throughput.py --model smollm2 --workdir W``)::

    OMP_NUM_THREADS=2 python benchmarks/onnx_smoothing.py --adapters W/run/checkpoint-63 --fp32 W/onnx-none \\
        --variants 0:norms:fp32 0.5:norms+down:int8 0.5:norms:fp32 0.8:norms+down:int8 0.8:norms:fp32
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

from onnx_throughput import sst2  # noqa: E402

from swiftcls import Classifier, ExportArguments  # noqa: E402
from swiftcls.data.dataset import Example  # noqa: E402
from swiftcls.models.onnx import ONNX_FILE, export_onnx  # noqa: E402
from swiftcls.models.smoothing import input_ranges, smooth  # noqa: E402
from swiftcls.models.trained import load_trained  # noqa: E402

DOWN = {"mlp.up_proj": ["mlp.down_proj"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapters", required=True, help="a LoRA checkpoint of swiftcls sft (decoder family)")
    parser.add_argument("--fp32", required=True, help="its swiftcls export --to onnx folder (configs are copied)")
    parser.add_argument("--variants", nargs="+", default=["0:norms:fp32", "0.8:norms:fp32", "0.8:norms+down:int8"])
    parser.add_argument("--calib_rows", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=32)
    args = parser.parse_args()

    options = ExportArguments(adapters=args.adapters, output_dir="unused")  # nothing is written there
    model, tokenizer, spec, space, payload = load_trained(None, args.adapters, options, "cpu")
    model = model.merge_and_unload().eval()
    clf = Classifier(model, tokenizer, spec, space, payload, "cpu")
    train = json.loads((Path(args.adapters).parent / "args.json").read_text())["dataset"][0]
    calib = [json.loads(line)["text"] for line in Path(train).read_text().splitlines()[: args.calib_rows]]
    pairs = {**spec.onnx_int8_smooth["pairs"], **DOWN}
    original = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    rows = clf.encode([Example(t) for t in calib])
    ranges = input_ranges(model, pairs, lambda: clf.logits_rows(rows, batch_size=16))
    dev = sst2("dev", None)
    texts, labels = [r["text"] for r in dev], np.array([r["label"] for r in dev])
    reference = clf.predict_proba(texts, batch_size=args.batch_size)
    print(json.dumps({"pytorch_accuracy": round(float((reference.argmax(-1) == labels).mean()), 4),
                      "calib_rows": len(rows), "dev_rows": len(texts)}), flush=True)
    work = Path(tempfile.mkdtemp(prefix="onnx-smoothing-"))
    try:
        for variant in args.variants:
            alpha, which, down = variant.split(":")
            folder = work / variant.replace(":", "_")
            shutil.copytree(args.fp32, folder, ignore=shutil.ignore_patterns("*.onnx*"))
            # Smoothed in place and restored after: a deep-copied model traces its weights as Constant nodes, which
            # onnxruntime's quantizer leaves float32.
            if float(alpha) > 0:
                chosen = {**spec.onnx_int8_smooth["pairs"], **(DOWN if which == "norms+down" else {})}
                smooth(model, {"alpha": float(alpha), "pairs": chosen}, ranges)
            export_onnx(model, tokenizer, folder, "int8", None, ["down_proj"] if down == "fp32" else [])
            model.load_state_dict(original)
            onnx = Classifier.from_pretrained(str(folder), infer_backend="onnxruntime")
            start = time.perf_counter()
            probs = onnx.predict_proba(texts, batch_size=args.batch_size)
            seconds = time.perf_counter() - start
            print(json.dumps({"variant": variant, "accuracy": round(float((probs.argmax(-1) == labels).mean()), 4),
                              "same_class": round(float((probs.argmax(-1) == reference.argmax(-1)).mean()), 4),
                              "max_prob_diff": round(float(np.abs(probs - reference).max()), 4),
                              "rows_per_s": round(len(texts) / seconds, 1),
                              "mb": round((folder / ONNX_FILE).stat().st_size / 2**20, 1)}), flush=True)
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
