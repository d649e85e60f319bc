#!/usr/bin/env bash
# Chinese reviews (CSV `label,review`) with a Qwen-family model; run from the repository root.
# MiniLM's English vocabulary turns most Chinese characters into [UNK]; use a multilingual model.
set -euo pipefail
MODEL=${MODEL:-Qwen2.5-0.5B-Instruct}
swiftcls sft --model "$MODEL" \
    --dataset ../shared/data/waimai_10k/waimai_10k.csv --columns '{"review": "text"}' \
    --labels 差评 好评 --split_dataset_ratio 0.1 --class_weights auto \
    --tuner_type lora --target_modules all-linear --learning_rate 1e-4 --num_train_epochs 1 \
    --max_length 128 --output_dir output/waimai_qwen
swiftcls infer --adapters "$(ls -d output/waimai_qwen/checkpoint-* | sort -V | tail -1)" \
    --dataset ../shared/data/waimai_10k/waimai_10k.csv#200 --columns '{"review": "text"}' \
    --result_path output/waimai_qwen/pred.jsonl
