#!/usr/bin/env bash
# CPU serving through ONNX Runtime (docs/serving.md, "ONNX Runtime"): LoRA-train SmolLM2 on 2,000 SST-2 rows, export
# a float32 and a calibrated int8 graph, and score PyTorch and both graphs on the same dev rows. Run from the
# repository root with ../shared present and `pip install 'swiftcls[onnx]'`; offline, add --model <a local
# SmolLM2-135M-Instruct folder> to the sft line. About 15 minutes on 2 CPU cores.
set -euo pipefail
OUT=output/sst2_smollm2_lora
DEV=../shared/data/sst2/dev.tsv
swiftcls sft --config examples/configs/sst2_smollm2_lora.yaml
CKPT=$(python -c "import json; print(json.load(open('$OUT/summary.json'))['last_model_checkpoint'])")
# float32: probabilities equal PyTorch's within 1e-4
swiftcls export --adapters "$CKPT" --to onnx --output_dir "$OUT/onnx-fp32"
# int8: SmoothQuant smoothing calibrated on 256 rows (without --dataset: the training rows named in args.json),
# the MLP down projections with one activation scale per token (the llama template's onnx_int8_per_token)
swiftcls export --adapters "$CKPT" --to onnx --onnx_quantize int8 --dataset ../shared/data/sst2/train.tsv#256 \
    --output_dir "$OUT/onnx-int8"
swiftcls eval --adapters "$CKPT" --dataset "$DEV" --metrics_path "$OUT/eval_pt.json"
for graph in onnx-fp32 onnx-int8; do
    swiftcls eval --model "$OUT/$graph" --infer_backend onnxruntime --dataset "$DEV" \
        --metrics_path "$OUT/eval_$graph.json"
done
python -c "
import json
for name in ('pt', 'onnx-fp32', 'onnx-int8'):
    print(name, json.load(open('$OUT/eval_' + name + '.json'))['accuracy'])"
# Serve the int8 graph: swiftcls deploy --model $OUT/onnx-int8 --infer_backend onnxruntime
