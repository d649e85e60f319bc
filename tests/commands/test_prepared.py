"""The prepared-rows cache of ``swiftcls sft`` (swiftcls/commands/prepared.py): a second run on the same files and
settings opens the cached Arrow files without reading or tokenizing a row; a changed file or setting prepares
afresh."""

import logging
import os

import pytest
from helpers import make_rows, write

from swiftcls.commands import prepared
from swiftcls.config.sft import SftArguments
from swiftcls.core.spec import spec_for_config
from swiftcls.data import prepare
from swiftcls.data.encode import PromptEncoder
from swiftcls.models.loading import load_tokenizer


def _prepare(args, encoder):
    space, train, val, skipped, key = prepared.read_rows(args)
    rows = prepared.tokenized_rows(args, encoder, train, key, "Tokenizing train", None, "train")
    val_rows = prepared.tokenized_rows(args, encoder, val, key, "Tokenizing val", None, "val")
    return space, list(rows), list(val_rows)


def test_a_second_run_reuses_the_prepared_rows(tiny_model_dir, tmp_path, monkeypatch, caplog):
    data = write(tmp_path / "train.jsonl", make_rows(40, "single"))
    model = tiny_model_dir("bert")
    spec = spec_for_config("bert")
    encoder = PromptEncoder(load_tokenizer(str(model), spec), spec, max_length=16)
    args = SftArguments(model=str(model), dataset=[data], output_dir=str(tmp_path / "out"), use_cpu=True,
                        split_dataset_ratio=0.25, dataset_cache_dir=str(tmp_path / "cache"))
    with caplog.at_level(logging.INFO):
        first = _prepare(args, encoder)
    assert "read 40 rows" in caplog.text and "tokenized 30 rows" in caplog.text and "tokenized 10 rows" in caplog.text
    assert sorted(p.split("-")[0] for p in os.listdir(tmp_path / "cache")) == ["rows", "tokens", "tokens"]

    def never(*_, **__):
        raise AssertionError("the cache was not used")

    with monkeypatch.context() as patched:  # a hit reads no row and calls no map function
        patched.setattr(prepared, "write_examples", never)
        patched.setattr(prepare, "_tokenize", never)
        patched.setattr(prepare, "_encode_labels", never)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            assert _prepare(args, encoder) == first
    assert caplog.text.count("data cache hit: ") == 3 and "tokenized" not in caplog.text

    # Another max_length re-tokenizes the cached rows; an edited file is read again.
    caplog.clear()
    with caplog.at_level(logging.INFO):
        _prepare(args, PromptEncoder(encoder.tokenizer, spec, max_length=12))
    assert caplog.text.count("data cache hit: ") == 1 and "tokenized 30 rows" in caplog.text
    write(tmp_path / "train.jsonl", make_rows(41, "single"))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert len(_prepare(args, encoder)[1]) == 30
    assert "read 41 rows" in caplog.text and "data cache hit" not in caplog.text
    assert not [p for p in os.listdir(tmp_path / "cache") if p.startswith(".")]  # no half-built folder left


def test_bad_rows_are_never_cached_and_still_raise(tmp_path, tiny_model_dir):
    rows = make_rows(6, "single") + [{"text": "", "label": "good"}]
    data = write(tmp_path / "train.jsonl", rows)
    args = SftArguments(model=str(tiny_model_dir("bert")), dataset=[data], output_dir=str(tmp_path / "out"),
                        use_cpu=True, dataset_cache_dir=str(tmp_path / "cache"))
    for _ in range(2):
        with pytest.raises(Exception, match=r"train.jsonl, row 7, field 'text': text is empty"):
            prepared.read_rows(args)
    assert not os.listdir(tmp_path / "cache")
