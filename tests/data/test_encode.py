"""PromptEncoder on hostile rows: multi-megabyte texts cost what a max_length row costs, and a max_length that
leaves no room for text is reported."""

import logging

import pytest

from swiftcls.core.spec import spec_for_config
from swiftcls.data import encode, truncate
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.models.loading import load_tokenizer


class Spy:
    """A tokenizer wrapper that records the longest string it was asked to tokenize."""

    def __init__(self, tokenizer):
        self.tokenizer, self.longest = tokenizer, 0

    def __call__(self, text, *args, **kwargs):
        for t in [text, *args] if not isinstance(text, list) else [*text, *(args[0] or [] if args else [])]:
            self.longest = max(self.longest, len(t or "") if isinstance(t, str) else 0)
        return self.tokenizer(text, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)

    def __setattr__(self, name, value):
        if name in ("tokenizer", "longest"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.tokenizer, name, value)


def rows(text: str) -> list[Example]:
    """The same long text as a plain row, the second text of a pair, and a chat turn after a short one."""
    return [Example(text), Example("short", text_pair=text),
            Example(None, messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": text}])]


@pytest.fixture(scope="module")
def tokenizers(tiny_model_dir):
    return {family: (load_tokenizer(str(tiny_model_dir(family)), spec_for_config(family)), spec_for_config(family))
            for family in ("qwen2", "bert")}


@pytest.mark.parametrize("family", ["qwen2", "bert"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_a_multi_megabyte_row_is_cut_to_the_character_budget_before_tokenizing(tokenizers, family, side):
    tokenizer, spec = tokenizers[family]
    spy = Spy(tokenizer)
    encoder = PromptEncoder(spy, spec, 32, truncation_side=side)
    budget = truncate.char_budget(tokenizer, 32)
    huge = "the quick brown fox jumps over the lazy dog " * 70_000  # 3 MB
    encoded = [encoder.encode([row])[0] for row in rows(huge)]
    assert 0 < spy.longest <= budget + 200 < len(huge)  # + the chat template around the text
    assert [len(r["input_ids"]) for r in encoded] == [32, 32, 32]


@pytest.mark.parametrize("family", ["qwen2", "bert"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_cutting_to_the_budget_keeps_the_same_tokens(tokenizers, family, side, monkeypatch):
    """Rows just over max_length are not cut at all; rows over the budget give the ids the whole text gave."""
    tokenizer, spec = tokenizers[family]
    encoder = PromptEncoder(tokenizer, spec, 16, truncation_side=side)
    budget = truncate.char_budget(tokenizer, 16)
    words = " ".join(f"w{i} naïve café, 42.5%!" for i in range(budget // 10))  # > budget characters
    just_over = " ".join(words.split()[:20])
    cut = [encoder.encode([row]) for row in rows(words) + rows(just_over)]
    monkeypatch.setattr(encode, "clip", lambda text, budget, side: text)  # the old behaviour: no cut
    whole = PromptEncoder(tokenizer, spec, 16, truncation_side=side)
    whole = [whole.encode([row]) for row in rows(words) + rows(just_over)]
    assert len(words) > budget and cut == whole
    assert truncate.clip(words, budget, side) != words  # the first encoder did cut


def test_a_max_length_shorter_than_the_template_warns(tokenizers, caplog):
    tokenizer, spec = tokenizers["qwen2"]
    with caplog.at_level(logging.WARNING, logger="swiftcls.data.encode"):
        PromptEncoder(tokenizer, spec, 64)
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="swiftcls.data.encode"):
        encoder = PromptEncoder(tokenizer, spec, 4)
    assert "--max_length 4 leaves no room for text" in caplog.text and encoder.overhead() > 4
    caplog.clear()
    bert, bert_spec = tokenizers["bert"]
    with caplog.at_level(logging.WARNING, logger="swiftcls.data.encode"):
        PromptEncoder(bert, bert_spec, 2)
    assert "special tokens alone take(s) 2 tokens" in caplog.text


def test_an_encoder_takes_rows_with_and_without_a_pair_in_one_batch(tokenizers):
    """Two files concatenated, one with text pairs and one without, used to crash the encoder's batch call."""
    tokenizer, spec = tokenizers["bert"]
    mixed = [Example("a good film"), Example("a man plays", text_pair="a man is playing"), Example("bad")]
    encoder = PromptEncoder(tokenizer, spec, 32)
    assert encoder.encode(mixed) == [encoder.encode([row])[0] for row in mixed]
