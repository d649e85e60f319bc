#!/usr/bin/env bash
# One GPU: LoRA on Qwen2.5-7B-Instruct in bf16 with gradient checkpointing (needs hub access).
# Padding-free batches (the default) use flash_attention_2 when flash-attn is installed, else torch's varlen kernel.
set -euo pipefail
swiftcls sft --task seq_cls --model Qwen2.5-7B-Instruct \
    --dataset train.jsonl --split_dataset_ratio 0.05 \
    --tuner_type lora --lora_rank 16 --lora_alpha 32 --target_modules all-linear \
    --torch_dtype bfloat16 --gradient_checkpointing true --padding_free true \
    --per_device_train_batch_size 8 --gradient_accumulation_steps 4 --learning_rate 1e-4 \
    --num_train_epochs 2 --max_length 2048 --eval_strategy steps --eval_steps 200 \
    --report_to tensorboard --output_dir output/qwen7b_cls
