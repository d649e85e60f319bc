#!/usr/bin/env bash
# One 80 GB GPU: LoRA on the Mixture-of-Experts Qwen3-30B-A3B-Instruct-2507 in bf16 (needs hub access; about 61 GB of
# weights, since every expert is loaded). all-linear adapts the attention projections only: the experts are fused
# 3-D tensors and the router stays frozen (docs/models.md#mixture-of-experts). Not run by swiftcls's tests, which
# use tiny random Qwen3-MoE / Qwen2-MoE checkpoints.
set -euo pipefail
swiftcls sft --task seq_cls --model Qwen3-30B-A3B-Instruct-2507 \
    --dataset train.jsonl --split_dataset_ratio 0.05 \
    --tuner_type lora --lora_rank 16 --lora_alpha 32 --target_modules all-linear \
    --torch_dtype bfloat16 --gradient_checkpointing true --padding_free true \
    --per_device_train_batch_size 4 --gradient_accumulation_steps 8 --learning_rate 1e-4 \
    --num_train_epochs 2 --max_length 1024 --eval_strategy steps --eval_steps 200 \
    --output_dir output/qwen3_moe_cls
