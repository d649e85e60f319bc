#!/usr/bin/env bash
# 2 machines x 8 GPUs with plain torchrun, DeepSpeed ZeRO-2 + LoRA on Qwen2.5-7B-Instruct.
# Run on every node: `bash examples/two_nodes_torchrun.sh <node_rank> <master_addr>` (node 0 first).
# The same with SWIFT's convention, no torchrun needed:
#   NNODES=2 NODE_RANK=<node_rank> MASTER_ADDR=<master_addr> MASTER_PORT=29500 NPROC_PER_NODE=8 swiftcls sft ...
# --output_dir must be on a filesystem shared by both nodes: every rank writes its ZeRO shard into checkpoints.
set -euo pipefail
NODE_RANK=${1:?usage: two_nodes_torchrun.sh <node_rank> <master_addr>}
MASTER_ADDR=${2:?usage: two_nodes_torchrun.sh <node_rank> <master_addr>}
torchrun --nnodes 2 --node_rank "$NODE_RANK" --nproc_per_node 8 \
    --master_addr "$MASTER_ADDR" --master_port "${MASTER_PORT:-29500}" \
    -m swiftcls sft --task seq_cls --model Qwen2.5-7B-Instruct \
    --dataset train.jsonl --split_dataset_ratio 0.05 \
    --tuner_type lora --lora_rank 16 --deepspeed zero2 --torch_dtype bfloat16 --bf16 true \
    --per_device_train_batch_size 8 --learning_rate 1e-4 --num_train_epochs 2 --max_length 2048 \
    --eval_strategy steps --eval_steps 200 --output_dir /shared/output/qwen7b_2nodes
