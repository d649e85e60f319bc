"""Lean prompts: without ``--system``, a chat template's default system prompt is left out (an empty system turn
instead); ``--system default`` keeps it, ``--system TEXT`` is used as given. Real tokenizers: SmolLM2's template
inserts "You are a helpful AI assistant named SmolLM..." when a prompt has no system turn; the shared Qwen tokenizer's
(Qwen3's) inserts nothing."""

import logging

import pytest
from transformers import AutoTokenizer

from swiftcls.core.spec import spec_for_config
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder

SMOL_DEFAULT = "You are a helpful AI assistant named SmolLM"
LLAMA = spec_for_config("llama")
TEXT = "a gorgeous, witty film"


@pytest.fixture(scope="module")
def smol(smollm2_dir):
    return AutoTokenizer.from_pretrained(smollm2_dir)


def chat_ids(tokenizer, messages):
    """What ``apply_chat_template`` makes of ``messages`` (the generation prompt appended), tokenized."""
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return tokenizer(prompt, add_special_tokens=False)["input_ids"]


def ids(encoder, example):
    return encoder.encode([example])[0]["input_ids"]


def test_default_prompt_has_an_empty_system_turn_not_the_templates_default(smol):
    lean, kept = PromptEncoder(smol, LLAMA, 128), PromptEncoder(smol, LLAMA, 128, system="default")
    user = [{"role": "user", "content": TEXT}]
    assert ids(lean, Example(TEXT)) == chat_ids(smol, [{"role": "system", "content": ""}, *user])
    assert SMOL_DEFAULT not in smol.decode(ids(lean, Example(TEXT)))
    # --system default: the prompt swiftcls built before lean prompts, the template's default system prompt in it
    assert ids(kept, Example(TEXT)) == chat_ids(smol, user)
    assert SMOL_DEFAULT in smol.decode(ids(kept, Example(TEXT)))
    assert kept.overhead() - lean.overhead() >= 15
    # a SWIFT messages row without a system turn is lean too; one with its own system turn keeps it
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, *user]
    assert ids(lean, Example(None, messages=turns)) == chat_ids(smol, [{"role": "system", "content": ""}, *turns])
    own = [{"role": "system", "content": "Be brief."}, *user]
    assert ids(lean, Example(None, messages=own)) == chat_ids(smol, own)


def test_system_text_is_still_the_system_turn(smol):
    encoder = PromptEncoder(smol, LLAMA, 128, system="Classify the sentiment.")
    got = ids(encoder, Example(TEXT, text_pair="second"))
    assert got == chat_ids(smol, [{"role": "system", "content": "Classify the sentiment."},
                                  {"role": "user", "content": f"{TEXT}\nsecond"}])
    assert SMOL_DEFAULT not in smol.decode(got)


def test_a_template_without_a_default_system_prompt_gets_no_system_turn(shared):
    from swiftcls.models.loading import load_tokenizer

    spec = spec_for_config("qwen3")
    tokenizer = load_tokenizer(str(shared / "tokenizers" / "qwen2"), spec)  # the real Qwen3 chat template
    user = [{"role": "user", "content": TEXT}]
    expected = tokenizer(tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True,
                                                       **spec.chat_template_kwargs),
                         add_special_tokens=False)["input_ids"]
    for system in (None, "default"):  # an empty system turn would only add tokens here
        encoder = PromptEncoder(tokenizer, spec, 128, system=system)
        assert encoder.system_turn is None and ids(encoder, Example(TEXT)) == expected


def test_the_prompt_overhead_is_logged_once_against_the_median_text(smol, caplog):
    encoder = PromptEncoder(smol, LLAMA, 128)
    rows = [Example("good"), Example("a rather long and thoughtful review of a film"), Example(TEXT)]
    with caplog.at_level(logging.INFO, logger="swiftcls.data.encode"):
        encoded = encoder.encode(rows)
        encoder.encode(rows)
    median = sorted(len(r["input_ids"]) for r in encoded)[1] - encoder.overhead()
    lines = [r.getMessage() for r in caplog.records if "prompt overhead" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith(f"prompt overhead {encoder.overhead()} tokens/row, "
                               f"{100 * encoder.overhead() / median:.0f}% of the median text")
