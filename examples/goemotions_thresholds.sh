#!/usr/bin/env bash
# Multi-label thresholds and calibration end to end (docs/metrics.md, "Thresholds and calibration"); run from the
# repository root with ../shared present. About 25 minutes on 2 CPU cores.
set -euo pipefail
OUT=output/goemotions_minilm
# 1. Train; sft fits the temperatures and tunes one threshold per label on the 1,000 validation rows and prints
#    "thresholds  macro-F1 ... at 0.5, ... tuned" and "calibration  ECE ... -> ...".
swiftcls sft --config examples/configs/goemotions_multilabel.yaml
CKPT=$(python -c "import json; print(json.load(open('$OUT/summary.json'))['decisions_checkpoint'])")
python -c "import json; c = json.load(open('$CKPT/config.json')); print(c['swiftcls_thresholds'])"
# 2. Score other rows with the saved thresholds; --tune_thresholds also reports what tuning on these rows would give.
swiftcls eval --model "$CKPT" --dataset ../shared/data/goemotions/dev.tsv#2000 --quoting csv \
    --columns '{"id": "ignore"}' --tune_thresholds --metrics_path "$OUT/dev_metrics.json"
# 3. Export: the temperature is folded into the head, the thresholds go to config.json and the model card's table.
swiftcls export --model "$CKPT" --output_dir "$OUT/exported"
# 4. The same predictions from Python (and from `swiftcls deploy --model $OUT/exported`); --threshold overrides.
python - "$OUT/exported" <<'PY'
import sys

from swiftcls import Classifier

clf = Classifier.from_pretrained(sys.argv[1])
texts = ["Thank you so much, this made my day!", "I can't believe they did that, so annoying."]
print(clf.predict(texts))
print({name: round(t, 3) for name, t in clf.thresholds.items()})
clf.threshold = 0.5  # one threshold for every label, as --threshold 0.5
print(clf.predict(texts))
PY
