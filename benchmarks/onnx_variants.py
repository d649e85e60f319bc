"""Which ONNX graph and int8 recipe is fastest on this CPU: export and quantization variants against swiftcls's PyTorch.

The study behind ``swiftcls export --to onnx``'s defaults (issue 17 item 4). For one fine-tuned checkpoint it
exports float32 graphs twice (traced with sdpa attention as transformers runs it, and with eager attention then fused
by onnxruntime's transformer optimizer, ``--fusion bert``), derives int8 graphs with ``quantize_dynamic`` (QInt8 or
QUInt8 weights, per tensor or per output channel, all quantizable ops or MatMul only), and times
``Classifier.predict_proba`` over the same SST-2 dev rows with every variant in interleaved rounds (tokenization
included, same batch size and threads). It prints rows/s (median, best), the ratio to PyTorch per round, dev
accuracy, the share of rows whose class equals PyTorch's and the largest probability difference.

Example (MiniLM fine-tuned on SST-2; a LoRA checkpoint of SmolLM2 works the same with ``--model smollm2``)::

    OMP_NUM_THREADS=1 python benchmarks/onnx_variants.py --model minilm --checkpoint out/checkpoint-250 \\
        --workdir /tmp/onnx-variants --time_rows 320 --variants fp32,int8,fused-fp32,fused-int8-pc
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))

import onnx_throughput as T  # noqa: E402

import swiftcls.commands.export as export_command  # noqa: E402
from swiftcls import Classifier, export_main  # noqa: E402
from swiftcls.models.onnx import export_onnx  # noqa: E402

FLOAT = {"DefaultTensorType": onnx.TensorProto.FLOAT}  # fused com.microsoft ops have no ONNX type inference
# name -> (float32 base: traced | fused, quantize_dynamic options or None)
VARIANTS = {
    "fp32": ("traced", None),
    "int8": ("traced", {"weight_type": QuantType.QInt8}),  # swiftcls's int8 before this study
    "int8-u8": ("traced", {"weight_type": QuantType.QUInt8}),
    "int8-pc": ("traced", {"weight_type": QuantType.QInt8, "per_channel": True}),
    "int8-mm-pc": ("traced", {"weight_type": QuantType.QInt8, "per_channel": True, "op_types_to_quantize": ["MatMul"]}),
    "fused-fp32": ("fused", None),
    "fused-int8": ("fused", {"weight_type": QuantType.QInt8}),
    "fused-int8-u8": ("fused", {"weight_type": QuantType.QUInt8}),
    "fused-int8-pc": ("fused", {"weight_type": QuantType.QInt8, "per_channel": True}),  # the bert default now
}


def export_float(source: dict, out: Path, fusion: str | None) -> Path:
    """``swiftcls export --to onnx`` with the fusion forced on (``bert``) or off (None), whatever the template says."""
    if not out.exists():
        export_command.export_onnx = lambda model, tok, folder, quantize, *_: export_onnx(model, tok, folder, None,
                                                                                        fusion)
        try:
            export_main({**source, "to": "onnx", "output_dir": str(out)})
        finally:
            export_command.export_onnx = export_onnx
    return out


def derive(base: Path, out: Path, options: dict) -> Path:
    """A copy of export folder ``base`` whose graph is quantized with ``options``."""
    if not out.exists():
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(base, tmp)
        quantize_dynamic(str(base / "model.onnx"), str(tmp / "model.onnx"), extra_options=FLOAT, **options)
        os.replace(tmp, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="minilm", choices=list(T.MODELS))
    parser.add_argument("--checkpoint", required=True, help="a fine-tuned full model folder or LoRA adapters")
    parser.add_argument("--workdir", required=True, help="exports are written (and reused) here")
    parser.add_argument("--fusion", default="bert", help="onnxruntime optimizer model type for the fused variants")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--time_rows", type=int, default=0, help="time the first N dev rows (default all)")
    parser.add_argument("--acc_rows", type=int, default=0, help="accuracy on the first N dev rows (default all)")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    ckpt, work = Path(args.checkpoint), Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    source = {"adapters" if (ckpt / "adapter_config.json").is_file() else "model": str(ckpt)}
    bases = {"traced": lambda: export_float(source, work / "fp32-traced", None)}
    bases["fused"] = lambda: export_float(source, work / "fp32-fused", args.fusion)
    folders = {}
    for name in args.variants.split(","):
        base, options = VARIANTS[name]
        folders[name] = bases[base]() if options is None else derive(bases[base](), work / name, options)
    dev = T.sst2("dev", args.acc_rows or None)
    texts, labels = [r["text"] for r in dev], np.array([r["label"] for r in dev])
    clfs = {"pt": Classifier.from_pretrained(**({"path": source["model"]} if "model" in source else source),
                                             device="cpu")}
    clfs.update({n: Classifier.from_pretrained(str(f), infer_backend="onnxruntime") for n, f in folders.items()})
    probs = {n: c.predict_proba(texts, batch_size=args.batch_size) for n, c in clfs.items()}  # also the warm-up
    timed = texts[: args.time_rows] if args.time_rows else texts
    seconds, loads = {n: [] for n in clfs}, []
    for _ in range(args.rounds):
        for name, clf in clfs.items():
            start = time.perf_counter()
            clf.predict_proba(timed, batch_size=args.batch_size)
            seconds[name].append(time.perf_counter() - start)
        loads.append(round(os.getloadavg()[0], 2))
    results = {"model": args.model, "rows": len(timed), "accuracy_rows": len(texts), "threads": torch.get_num_threads(),
               "batch_size": args.batch_size, "load_avg_1min_per_round": loads, "variants": {}}
    for name, s in seconds.items():
        results["variants"][name] = {
            "rows_per_s_median": round(len(timed) / statistics.median(s), 1),
            "rows_per_s_best": round(len(timed) / min(s), 1),
            "vs_pt_per_round": [round(p / x, 2) for p, x in zip(seconds["pt"], s)],
            "accuracy": round(float((probs[name].argmax(-1) == labels).mean()), 4),
            "same_class_as_pt": round(float((probs[name].argmax(-1) == probs["pt"].argmax(-1)).mean()), 4),
            "max_prob_diff_vs_pt": float(np.abs(probs[name] - probs["pt"]).max()),
            "mb": round((folders[name] / "model.onnx").stat().st_size / 1e6, 1) if name in folders else None,
        }
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
