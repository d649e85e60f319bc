#!/usr/bin/env bash
# The GPU measurements for docs/benchmarks.md (one H100, bf16). Each command prints its table and writes JSON
# under $OUT (default bench_out/). Roughly 25 minutes in all; run a subset with e.g. `bash benchmarks/run_gpu.sh 1 2`.
set -euo pipefail
OUT=${OUT:-bench_out}
mkdir -p "$OUT"
T="python benchmarks/train_throughput.py"
I="python benchmarks/infer_throughput.py"
declare -a RUNS=(
  # 1: training speed-up on mixed-length data (target >= 2.0x the HF recipe's non-pad tokens/s)
  "$T --shape qwen2.5-0.5b --tuner full --data mixed --max_length 2048 --batch_size 16 --json $OUT/train_0.5b_full_mixed.json"
  # 2: MFU of full fine-tuning, 1.5B shape (target >= 40%)
  "$T --shape qwen2.5-1.5b --tuner full --data mixed --max_length 2048 --batch_size 16 --json $OUT/train_1.5b_full_mixed.json"
  # 3: LoRA on short real data
  "$T --shape qwen2.5-1.5b --tuner lora --data sst2 --max_length 512 --batch_size 64 --json $OUT/train_1.5b_lora_sst2.json"
  # 4: 7B LoRA, every row 2k tokens, gradient checkpointing: fits in 80 GB (peak_mem_GiB)
  "$T --shape qwen2.5-7b --tuner lora --data long --max_length 2048 --batch_size 8 --gradient_checkpointing --steps 10 --warmup 2 --json $OUT/train_7b_lora_long_gc.json"
  # 5: inference (target >= 3x pipeline("text-classification") samples/s)
  "$I --shape qwen2.5-1.5b --data mixed --max_length 2048 --batch_size 32 --rows 4096 --json $OUT/infer_1.5b_mixed.json"
  "$I --shape qwen2.5-1.5b --data sst2 --max_length 512 --batch_size 64 --rows 8192 --json $OUT/infer_1.5b_sst2.json"
  # 7: where the time goes: padded sdpa vs packed sdpa / swiftcls_varlen / flash_attention_2
  "python benchmarks/attention_paths.py --shape qwen2.5-1.5b --data mixed --max_length 2048 --batch_size 16 --rows 256"
)
pick=("$@")
for i in "${!RUNS[@]}"; do
  n=$((i + 1))
  if [ ${#pick[@]} -eq 0 ] || [[ " ${pick[*]} " == *" $n "* ]]; then
    echo "=== [$n] ${RUNS[$i]}  ($(date -u +%FT%TZ))"
    ${RUNS[$i]} 2>&1 | grep -v "Warning"
  fi
done
