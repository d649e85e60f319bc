"""swiftcls's defaults train exactly like the plain Hugging Face recipe (real MiniLM weights, real SST-2 rows).

The plain recipe is ``AutoModelForSequenceClassification`` + ``Trainer`` + ``DataCollatorWithPadding`` with
transformers' defaults (linear decay, no warm-up). With the row order fixed on both sides (``sequential``: the
shuffled orders come from different generators), every logged training loss must match: head initialisation,
label order, pooling, dropout, loss and learning-rate schedule are then all the same. swiftcls runs padded batches
here (``--padding_free false``): its default packed batches for BERT draw the same dropout from a different-shaped
mask, so they match the recipe in distribution, not draw for draw (tests/models/test_padding_free.py checks packed ==
padded without dropout). docs/benchmarks.md ("Defaults against the plain recipe") has the accuracy study this guards.
"""

import json

import pytest
from helpers import sft, write

pytestmark = pytest.mark.slow

STEPS, BATCH, LR, MAX_LEN = 4, 8, 5e-5, 64


def _hf_losses(minilm_dir, rows, out):
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    tok = AutoTokenizer.from_pretrained(minilm_dir)
    set_seed(42)  # as run_glue.py does before building the model; 42 is also both recipes' default seed
    model = AutoModelForSequenceClassification.from_pretrained(minilm_dir, num_labels=2)
    train = [{**tok(r["text"], truncation=True, max_length=MAX_LEN), "labels": r["label"]} for r in rows]
    args = TrainingArguments(output_dir=str(out), max_steps=STEPS, per_device_train_batch_size=BATCH,
                             learning_rate=LR, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                             train_sampling_strategy="sequential", disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=train, data_collator=DataCollatorWithPadding(tok))
    trainer.train()
    return [e["loss"] for e in trainer.state.log_history if "loss" in e]


def test_defaults_reproduce_the_plain_recipe_losses(shared, minilm_dir, tmp_path):
    lines = (shared / "data/sst2/dev.tsv").read_text(encoding="utf-8").splitlines()[1:1 + STEPS * BATCH]
    rows = [{"text": text, "label": int(label)} for label, text in (line.split("\t", 1) for line in lines)]
    out = tmp_path / "swiftcls"
    sft(["--model", str(minilm_dir), "--dataset", write(tmp_path / "train.jsonl", rows), "--tuner_type", "full",
         "--learning_rate", str(LR), "--max_steps", str(STEPS), "--per_device_train_batch_size", str(BATCH),
         "--max_length", str(MAX_LEN), "--logging_steps", "1", "--train_sampling_strategy", "sequential",
         "--padding_free", "false", "--output_dir", str(out)])
    state = json.loads((out / f"checkpoint-{STEPS}" / "trainer_state.json").read_text())
    ours = [e["loss"] for e in state["log_history"] if "loss" in e]
    theirs = _hf_losses(str(minilm_dir), rows, tmp_path / "hf")
    assert len(ours) == len(theirs) == STEPS
    assert ours == pytest.approx(theirs, rel=1e-4), (ours, theirs)
