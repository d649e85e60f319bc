#!/usr/bin/env bash
# 8 GPUs on one machine, DeepSpeed ZeRO-3: full fine-tuning of Qwen2.5-7B-Instruct as a classifier in bf16.
# NPROC_PER_NODE makes swiftcls re-launch itself under torchrun (SWIFT's convention). ZeRO-3 loads the weights
# sharded (no GPU ever holds the full model) and saves full 16-bit weights that `swiftcls infer/export` read.
# Global batch = 4 per GPU x 8 GPUs x 2 accumulation steps = 64 rows.
set -euo pipefail
NPROC_PER_NODE=8 swiftcls sft --task seq_cls --model Qwen2.5-7B-Instruct \
    --dataset train.jsonl --split_dataset_ratio 0.05 \
    --tuner_type full --deepspeed zero3 --torch_dtype bfloat16 --bf16 true --gradient_checkpointing true \
    --per_device_train_batch_size 4 --gradient_accumulation_steps 2 --learning_rate 1e-5 \
    --num_train_epochs 2 --max_length 2048 --eval_strategy steps --eval_steps 200 \
    --report_to tensorboard --output_dir output/qwen7b_zero3
# LoRA instead: --tuner_type lora (adapters + the head are saved; ZeRO-2 is usually enough for LoRA).
# CPU optimizer offload for tight GPU memory: --deepspeed zero3_offload.
