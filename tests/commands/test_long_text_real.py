"""--long_text chunk on real text with real weights: all-MiniLM-L6-v2, SST-2 reviews placed after neutral STS-B
sentences (examples/long_text.py builds the rows), so the evidence sits past the first window."""

import importlib.util
import json
import random
from pathlib import Path

import pytest
from helpers import sft, write

from swiftcls import eval_main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "long_text.py"


def long_text_example():
    spec = importlib.util.spec_from_file_location("long_text_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_for(shared):
    """examples/long_text.py, reading the shared folder the tests use; skips without STS-B."""
    if not (shared / "data" / "stsb" / "sts-train.csv").is_file():
        pytest.skip(f"STS-B not found under {shared}")
    example = long_text_example()
    example.shared_dir = lambda: shared
    return example


def args(minilm_dir, train, dev, max_length, mode, out, seed=0, epochs=2):
    return ["--model", str(minilm_dir), "--dataset", train, "--val_dataset", dev, "--tuner_type", "full",
            "--learning_rate", "1e-4", "--num_train_epochs", str(epochs), "--max_length", str(max_length),
            "--long_text", mode, "--chunk_stride", str(max_length // 4), "--per_device_train_batch_size", "16",
            "--seed", str(seed), "--save_strategy", "no", "--eval_strategy", "no", "--output_dir", str(out)]


@pytest.mark.slow
def test_chunked_inference_finds_the_review_that_truncation_cuts(shared, minilm_dir, tmp_path):
    """MiniLM trained on plain SST-2 reviews (short rows: the same ids in both modes), then scored on dev reviews
    placed after at least --max_length words of neutral STS-B text: truncated rows hold only filler (about
    chance), pooled windows find the review. Training on the long rows themselves is the heavy test below."""
    max_length = 32
    example = example_for(shared)
    reviews = example.read_sst2(shared / "data" / "sst2" / "train.tsv")[:320]
    train = write(tmp_path / "train.jsonl", [{"text": text, "label": "positive" if label == "1" else "negative"}
                                             for label, text in reviews])
    _, dev = example.build(tmp_path / "long", 0, 200, filler_words=max_length)
    summary = sft(args(minilm_dir, train, dev, max_length, "chunk", tmp_path / "run") + ["--chunk_pooling", "max"])
    chunked = summary["metrics"]["accuracy"]  # sft's final evaluation of the dev rows, chunked as trained
    truncated = eval_main(["--model", summary["last_model_checkpoint"], "--dataset", dev, "--long_text",
                           "truncate"])["metrics"]["accuracy"]
    # Measured 2026-11-30 (2 CPU cores shared with 5 other jobs, 196 s): chunk 0.725, truncate 0.515 on 200 dev rows
    # (majority class 0.525).
    assert truncated <= 0.6 and chunked >= truncated + 0.1, (chunked, truncated)


def test_filler_in_tokens_puts_the_review_wholly_in_the_second_window(shared, minilm_dir, tmp_path):
    """--filler_tokens 128 at --max_length 128, stride 0 (the measured setting): every row is 2 windows, the first all
    filler, the second the whole review after a few filler tokens, so truncation sees none of the evidence."""
    from transformers import AutoTokenizer

    from swiftcls.data.chunking import encoder_windows

    example = example_for(shared)
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir)
    ids = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    train, _ = example.build(tmp_path / "rows", 20, 0, 128, 0, lambda text: len(ids(text)))
    reviews = example.read_sst2(shared / "data" / "sst2" / "train.tsv")
    random.Random(0).shuffle(reviews)
    for line, (_, review) in zip(open(train, encoding="utf-8"), reviews):
        windows = encoder_windows(tokenizer, [json.loads(line)["text"]], None, 128, 0)[0]
        body = windows[-1]["input_ids"][1:-1]
        assert len(windows) == 2 and body[-len(ids(review)):] == ids(review)
        assert len(body) - len(ids(review)) < 40  # the filler the review shares its window with


@pytest.mark.heavy
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chunk_training_beats_truncate_training_at_max_length_128(shared, minilm_dir, tmp_path, seed):
    """The issue's setting: two training runs per seed at --max_length 128 (docs/benchmarks.md, "Long documents"):
    320 reviews after at least 128 MiniLM tokens of filler (2 windows per row, the review wholly in the second),
    --chunk_stride 0, max pooling, 4 epochs (80 steps). Too slow for CI (a chunked step of 16 rows takes 7 to 15 s on
    the shared 2-core box, and 40 steps do not learn these rows); the 0.15 margin is the issue's goal."""
    accuracy = example_for(shared).main(["--output_dir", str(tmp_path / "run"), "--max_length", "128",
                                         "--filler_tokens", "128", "--chunk_stride", "0", "--chunk_pooling", "max",
                                         "--epochs", "4", "--train_rows", "320", "--dev_rows", "200",
                                         "--seed", str(seed)])
    assert accuracy["chunk"] >= accuracy["truncate"] + 0.15, accuracy
