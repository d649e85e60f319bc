"""--long_text chunk: the windows a long row becomes (stride, overlap, framing, cap); short rows unchanged."""

import logging

import pytest

from swiftcls.core.errors import ConfigError
from swiftcls.core.spec import spec_for_config
from swiftcls.data.chunking import ChunkConfig, window_starts
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.models.loading import load_tokenizer

WORDS = " ".join(f"w{i}" for i in range(300))  # distinct words: the windows' overlaps are checkable token by token


@pytest.fixture(scope="module")
def tokenizers(tiny_model_dir):
    return {family: (load_tokenizer(str(tiny_model_dir(family)), spec_for_config(family)), spec_for_config(family))
            for family in ("qwen2", "bert")}


def chunker(tokenizers, family, max_length=40, stride=8, max_chunks=32, side="right", **kw):
    tokenizer, spec = tokenizers[family]
    return PromptEncoder(tokenizer, spec, max_length, truncation_side=side, long_text="chunk",
                         chunk=ChunkConfig(stride, "mean", max_chunks), **kw)


def test_window_starts():
    assert window_starts(10, 4, 1) == [0, 3, 6]  # [0,4) [3,7) [6,10)
    assert window_starts(4, 4, 1) == [0]
    assert window_starts(11, 4, 0) == [0, 4, 8]
    with pytest.raises(ConfigError, match="--chunk_stride 4"):
        window_starts(10, 4, 4)


def assert_covers(contents, body, stride):
    """Consecutive windows share exactly ``stride`` tokens, and together they are the whole text in order."""
    for a, b in zip(contents, contents[1:]):
        assert a[-stride:] == b[:stride]
    assert contents[0] + [t for c in contents[1:] for t in c[stride:]] == body


@pytest.mark.parametrize("family", ["bert", "qwen2"])
def test_short_rows_are_encoded_as_with_truncate(tokenizers, family):
    tokenizer, spec = tokenizers[family]
    rows = [Example("a short text"), Example("query", "a short passage"), Example(" ".join(WORDS.split()[:8]))]
    assert chunker(tokenizers, family).encode(rows) == PromptEncoder(tokenizer, spec, 40).encode(rows)


def test_encoder_windows_repeat_the_special_tokens_and_overlap_by_the_stride(tokenizers):
    tokenizer, _ = tokenizers["bert"]
    body = tokenizer(WORDS, add_special_tokens=False)["input_ids"]
    row = chunker(tokenizers, "bert").encode([Example(WORDS)])[0]
    windows = [w["input_ids"] for w in row["windows"]]
    assert row["pooling"] == "mean" and len(windows) > 3
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert all(w[0] == cls and w[-1] == sep and len(w) <= 40 for w in windows)
    assert all(len(w) == 40 for w in windows[:-1])
    assert_covers([w[1:-1] for w in windows], body, 8)


def test_encoder_pairs_chunk_the_second_text_and_repeat_the_first(tokenizers):
    tokenizer, _ = tokenizers["bert"]
    query = tokenizer("is it good", add_special_tokens=False)["input_ids"]
    body = tokenizer(WORDS, add_special_tokens=False)["input_ids"]
    row = chunker(tokenizers, "bert").encode([Example("is it good", WORDS)])[0]
    head = [tokenizer.cls_token_id, *query, tokenizer.sep_token_id]
    for w in row["windows"]:
        assert w["input_ids"][:len(head)] == head and w["input_ids"][-1] == tokenizer.sep_token_id
        assert w["token_type_ids"] == [0] * len(head) + [1] * (len(w["input_ids"]) - len(head))
    assert_covers([w["input_ids"][len(head):-1] for w in row["windows"]], body, 8)
    # A first text longer than half the room is cut to it, so every window still holds new text.
    long_first = chunker(tokenizers, "bert").encode([Example(WORDS, WORDS)])[0]["windows"]
    assert all(w["token_type_ids"].count(0) <= 2 + (40 - 3) // 2 for w in long_first)


def test_decoder_windows_each_carry_the_chat_template(tokenizers):
    tokenizer, spec = tokenizers["qwen2"]
    encoder = chunker(tokenizers, "qwen2", max_length=64, system="Rate the review.")
    assert encoder.chat
    # The template around the text, as on the truncate path: the short row's ids split at the text.
    marker = "MARKER"
    prefix, suffix = encoder.render(Example(None), marker).split(marker)
    prefix, suffix = (tokenizer(s, add_special_tokens=False)["input_ids"] for s in (prefix, suffix))
    body = tokenizer(WORDS, add_special_tokens=False)["input_ids"]
    windows = [w["input_ids"] for w in encoder.encode([Example(WORDS)])[0]["windows"]]
    assert all(w[:len(prefix)] == prefix and w[-len(suffix):] == suffix and len(w) <= 64 for w in windows)
    assert len(windows[0]) == 64
    assert_covers([w[len(prefix):-len(suffix)] for w in windows], body, 8)


def test_left_side_orders_windows_from_the_end(tokenizers):
    right = chunker(tokenizers, "qwen2", max_length=64).encode([Example(WORDS)])[0]["windows"]
    left = chunker(tokenizers, "qwen2", max_length=64, side="left").encode([Example(WORDS)])[0]["windows"]
    tokenizer, _ = tokenizers["qwen2"]
    assert len(left) == len(right)
    text = [tokenizer.decode(w["input_ids"]) for w in left]
    assert "w299" in text[0] and "w0 " in text[-1]
    assert "w0 " in tokenizer.decode(right[0]["input_ids"])


def test_rows_over_max_chunks_keep_their_first_windows_with_a_warning(tokenizers, caplog):
    row = Example(WORDS, file="long.jsonl", row=7)
    full = chunker(tokenizers, "bert").encode([row])[0]["windows"]
    with caplog.at_level(logging.WARNING):
        capped = chunker(tokenizers, "bert", max_chunks=3).encode([row])[0]["windows"]
    assert capped == full[:3]
    assert "--max_chunks 3" in caplog.text and "long.jsonl, row 7" in caplog.text


def test_a_huge_row_is_clipped_before_tokenizing_to_what_max_chunks_windows_hold(tokenizers):
    huge = "the quick brown fox jumps over the lazy dog " * 50_000  # 2 MB
    windows = chunker(tokenizers, "bert", max_chunks=4).encode([Example(huge)])[0]["windows"]
    assert len(windows) == 4


def test_a_stride_that_leaves_no_new_text_is_a_config_error(tokenizers):
    with pytest.raises(ConfigError, match="--chunk_stride 30"):
        chunker(tokenizers, "bert", max_length=40, stride=30)
    with pytest.raises(ConfigError, match="--chunk_pooling"):
        PromptEncoder(*tokenizers["bert"], 40, long_text="chunk", chunk=ChunkConfig(8, "median"))
