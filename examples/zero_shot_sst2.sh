#!/usr/bin/env bash
# Zero-shot, then few-shot from a label-name head, with a decoder LLM on SST-2; run from the repository root.
# docs/zero_shot.md explains the head; on a GPU swap the model for e.g. Qwen2.5-7B-Instruct.
set -euo pipefail
MODEL=${MODEL:-HuggingFaceTB/SmolLM2-135M-Instruct}  # offline: a local copy (tests/assets.py converts one)
PROMPT='Is the sentiment of this movie review {labels}?

Review: {text}

Answer with one word.'
# 1. No training: the LLM answers the prompt, restricted to the two labels.
swiftcls infer --model "$MODEL" --zero_shot --labels negative positive --prompt "$PROMPT" \
    --dataset ../shared/data/sst2/dev.tsv#200 --result_path output/sst2_zero_shot/pred.jsonl
# 2. 64 labelled rows, starting from that same head: step 0 scores exactly as step 1 did.
swiftcls sft --model "$MODEL" --dataset ../shared/data/sst2/train.tsv#64 --labels negative positive \
    --head_init label_names --prompt "$PROMPT" --tuner_type lora --num_train_epochs 2 \
    --max_length 128 --output_dir output/sst2_label_names
# 3. Predict with the trained adapters (the prompt comes from args.json), then export like any classifier.
CKPT=$(ls -d output/sst2_label_names/checkpoint-* | sort -V | tail -1)
swiftcls infer --adapters "$CKPT" --dataset ../shared/data/sst2/dev.tsv#200 \
    --result_path output/sst2_label_names/pred.jsonl
swiftcls export --adapters "$CKPT" --output_dir output/sst2_label_names_export
