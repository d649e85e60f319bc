#!/usr/bin/env bash
# The GPU checks of docs/benchmarks.md, sized for one short lease (~8 minutes on one H100/H200, bf16). Each run
# prints its table and writes JSON under $OUT (default bench_out/); benchmarks/gpu_summary.py then checks the four
# targets and writes ONE file, $OUT/gpu_results.json.
#
#   bash benchmarks/gpu_prepare.sh          # here, once: wheels the device image lacks (.whl/) + data (.bench_shared/)
#   bash benchmarks/run_gpu.sh              # on the GPU machine (the device tool: carry .whl and .bench_shared)
#   bash benchmarks/run_gpu.sh --dry-run    # anywhere: the same runs on tiny shapes on the CPU (~3 min), end to end
#   bash benchmarks/run_gpu.sh 1 4          # a subset
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; shift; fi
OUT=${OUT:-bench_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -d .whl ] && [ "$DRY" = 0 ]; then  # the device image has no network: install the carried wheels
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
else
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
fi
if [ -d .bench_shared ]; then export SWIFTCLS_SHARED=${SWIFTCLS_SHARED:-$PWD/.bench_shared}; fi
PY=${PYTHON:-python3}
T="$PY benchmarks/train_throughput.py"
I="$PY benchmarks/infer_throughput.py"
if [ "$DRY" = 1 ]; then
  # Tiny shapes, a few steps, on the CPU: checks every script, flag and the summary, not speed.
  S1="--shape tiny"; S2="--shape tiny"; S7="--shape tiny"; LEN=256; BIG="--device cpu --steps 2 --warmup 1"
  ROWS=64; GC="--device cpu"
else
  S1="--shape qwen2.5-0.5b"; S2="--shape qwen2.5-1.5b"; S7="--shape qwen2.5-7b"; LEN=2048; BIG="--steps 12 --warmup 3"
  ROWS=2048; GC=""
fi
declare -a RUNS=(
  # 1: training speed-up on mixed-length data (target: swiftcls >= 2.0x the HF recipe's non-pad tokens/s)
  "$T $S1 --tuner full --data mixed --max_length $LEN --batch_size 16 $BIG --recipes hf,swiftcls --json $OUT/train_mixed.json"
  # 2: MFU of full fine-tuning, 1.5B shape (target: >= 40%)
  "$T $S2 --tuner full --data mixed --max_length $LEN --batch_size 16 $BIG --recipes swiftcls --json $OUT/train_mfu.json"
  # 3: inference (target: swiftcls >= 3x pipeline("text-classification") rows/s)
  "$I $S2 --data mixed --max_length $LEN --batch_size 32 --rows $ROWS $GC --json $OUT/infer_mixed.json"
  # 4: 7B LoRA, every row 2k tokens, gradient checkpointing (target: peak memory <= 80 GB)
  "$T $S7 --tuner lora --data long --max_length $LEN --batch_size 8 --gradient_checkpointing $BIG --recipes swiftcls --json $OUT/train_7b_lora.json"
)
pick=("$@")
for i in "${!RUNS[@]}"; do
  n=$((i + 1))
  if [ ${#pick[@]} -eq 0 ] || [[ " ${pick[*]} " == *" $n "* ]]; then
    echo "=== [$n] ${RUNS[$i]}  ($(date -u +%FT%TZ))"
    ${RUNS[$i]} 2>&1 | grep -v "Warning" || echo "=== [$n] failed"
  fi
done
$PY benchmarks/gpu_summary.py "$OUT" $([ "$DRY" = 1 ] && echo --dry-run)
