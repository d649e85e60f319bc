"""--prompt rows: the template wraps the text, an over-long row loses text but never the instruction's end, and rows
a template cannot format are refused."""

import pytest

from swiftcls.core.errors import ConfigError, DataError
from swiftcls.core.prompt_template import DEFAULT_PROMPT, check_prompt, fill_labels, fill_text
from swiftcls.core.spec import spec_for_config
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.models.loading import load_tokenizer

PROMPT = fill_labels(DEFAULT_PROMPT, ["bad", "good"])
TAIL = "Answer with the label only."


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return load_tokenizer(str(tiny_model_dir("llama")), spec_for_config("llama"))


def test_placeholders_only_labels_and_text():
    template = 'Labels: {labels}. JSON: {"a": 1} {text}'
    assert fill_text(fill_labels(template, ["x", "y"]), "say {labels}") == 'Labels: x, y. JSON: {"a": 1} say {labels}'
    with pytest.raises(ConfigError, match="exactly once"):
        check_prompt("{text} and {text}")


@pytest.mark.parametrize("chat, side", [(True, "right"), (True, "left"), (False, "right")])
def test_an_over_long_row_loses_text_not_the_instruction(tokenizer, chat, side):
    encoder = PromptEncoder(tokenizer, spec_for_config("llama"), 64, chat, truncation_side=side, prompt=PROMPT)
    long = " ".join(f"word{i}" for i in range(300))
    ids = encoder.encode([Example(long), Example("short text")])
    assert len(ids[0]["input_ids"]) <= 64
    full = tokenizer.decode(ids[0]["input_ids"])
    assert "Classify the text into one of these labels: bad, good." in full
    tail = encoder.prompt_string(Example("")).split("Text: ")[1]  # the instruction's end (+ generation prompt)
    assert TAIL in tail and full.endswith(tail)
    kept = "word0 " if side == "right" else "word299"
    assert kept in full and ("word299" if side == "right" else "word0 ") not in full
    assert tokenizer.decode(ids[1]["input_ids"]).count("short text") == 1


def test_rows_a_prompt_cannot_format_are_refused(tokenizer):
    encoder = PromptEncoder(tokenizer, spec_for_config("llama"), 64, prompt=PROMPT)
    chat = Example(None, messages=[{"role": "user", "content": "hi"}], file="d.jsonl", row=3)
    with pytest.raises(DataError, match=r"d.jsonl, row 3, field 'messages'.*--prompt"):
        encoder.encode([Example("fine"), chat])
    with pytest.raises(ConfigError, match="'bert' is an encoder"):
        PromptEncoder(tokenizer, spec_for_config("bert"), 64, prompt=PROMPT)
    with pytest.raises(DataError, match="template alone is longer than --max_length 8"):
        PromptEncoder(tokenizer, spec_for_config("llama"), 8, prompt=PROMPT).encode([Example("text")])
