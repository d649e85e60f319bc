"""training_encoder: infer/eval/deploy/export build the prompts a checkpoint was trained with, its system prompt
choice included; checkpoints trained before lean prompts (no ``default_system_prompt`` in args.json) keep the chat
template's default system prompt exactly."""

import pytest
from transformers import AutoTokenizer

from swiftcls.config.data import DataArguments
from swiftcls.core.spec import spec_for_config
from swiftcls.data.dataset import Example
from swiftcls.inference.prompts import DEFAULT_SYSTEM_FIELD, lean_fields, training_encoder

LLAMA = spec_for_config("llama")
SMOL_DEFAULT = "You are a helpful AI assistant named SmolLM"
OLD_ARGS = {"max_length": 128, "chat_template_applied": True, "system": None, "truncation_side": "right"}


@pytest.fixture(scope="module")
def smol(smollm2_dir):
    return AutoTokenizer.from_pretrained(smollm2_dir)


def prompt(encoder, text="fine"):
    return encoder.tokenizer.decode(encoder.encode([Example(text)])[0]["input_ids"])


def old_prompt(tokenizer, text="fine"):
    """What swiftcls built before lean prompts: the user turn alone, the template adding its default system prompt."""
    return tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                         add_generation_prompt=True)


def test_a_checkpoint_from_before_lean_prompts_keeps_its_prompts(smol):
    assert DEFAULT_SYSTEM_FIELD not in OLD_ARGS
    for data_args in (None, DataArguments()):  # Classifier / export, and infer / eval with no --system
        encoder = training_encoder(smol, LLAMA, OLD_ARGS, data_args)
        assert prompt(encoder) == old_prompt(smol) and SMOL_DEFAULT in prompt(encoder)
    # an explicit --system at inference still wins (with the usual warning)
    assert "Be brief." in prompt(training_encoder(smol, LLAMA, OLD_ARGS, DataArguments(system="Be brief.")))
    old_with_text = {**OLD_ARGS, "system": "Rate it."}
    assert "Rate it." in prompt(training_encoder(smol, LLAMA, old_with_text))


def test_a_new_checkpoint_is_read_back_with_its_system_choice(smol):
    lean = {**OLD_ARGS, **lean_fields(None)}
    kept = {**OLD_ARGS, "system": "default", **lean_fields("default")}
    assert lean[DEFAULT_SYSTEM_FIELD] is False and kept[DEFAULT_SYSTEM_FIELD] is True
    for data_args in (None, DataArguments()):
        got = prompt(training_encoder(smol, LLAMA, lean, data_args))
        assert got.startswith("<|im_start|>system\n<|im_end|>\n") and SMOL_DEFAULT not in got
        assert prompt(training_encoder(smol, LLAMA, kept, data_args)) == old_prompt(smol)
