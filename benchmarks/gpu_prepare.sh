#!/usr/bin/env bash
# Run here (with network to PyPI), once, before benchmarks/run_gpu.sh on a GPU machine that has none:
#   .whl/           wheels of what the device image lacks or has in another version (Python 3.12, manylinux x86-64)
#   .bench_shared/  the real data and tokenizer the benchmarks read (from ../shared; git-ignored, never committed)
# Then call the device tool with carry [".whl", ".bench_shared"] and the command `bash benchmarks/run_gpu.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SWIFTCLS_SHARED:-../shared}
EXCLUDE=$(git rev-parse --git-path info/exclude)  # also right in a git worktree
mkdir -p "$(dirname "$EXCLUDE")"
for d in /.whl/ /.bench_shared/; do grep -qx "$d" "$EXCLUDE" 2>/dev/null || echo "$d" >> "$EXCLUDE"; done
# The image has torch, peft, accelerate, tokenizers, safetensors, pyarrow, fsspec, xxhash (see the device tool's
# KINDS.md) but transformers 5.17 (swiftcls pins 5.23-5.24) and no datasets (swiftcls.data imports it).
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl "transformers==5.24.0" "datasets==5.2.0" "dill==0.4.1" "multiprocess==0.70.19"
mkdir -p .bench_shared/data/sst2 .bench_shared/tokenizers
cp "$SHARED/data/sst2/train.tsv" .bench_shared/data/sst2/
cp -r "$SHARED/tokenizers/qwen2" .bench_shared/tokenizers/
du -sh .whl .bench_shared
