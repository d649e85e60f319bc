"""training_encoder: infer/eval/deploy/export build the prompts a checkpoint was trained with, its system prompt
choice included; checkpoints trained before lean prompts (no ``default_system_prompt`` in args.json) keep the chat
template's default system prompt exactly."""

import pytest
from transformers import AutoTokenizer

from swiftcls.config.data import DataArguments
from swiftcls.config.infer import InferArguments
from swiftcls.config.parser import from_dict, parse_args
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


def test_a_flag_given_at_its_default_value_still_overrides_the_checkpoint(smol):
    """`swiftcls infer --truncation_side right` on a checkpoint trained with `left`: the flag was typed, so it wins,
    though `right` is also the flag's default (before, only values differing from the default could override)."""
    trained = {**OLD_ARGS, **lean_fields(None), "truncation_side": "left", "max_length": 64}
    base = ["--model", "ckpt", "--dataset", "rows.jsonl"]
    typed = parse_args(InferArguments, base + ["--truncation_side", "right", "--max_length", "512"])
    encoder = training_encoder(smol, LLAMA, trained, typed)
    assert (encoder.truncation_side, encoder.max_length) == ("right", 512)
    untyped = training_encoder(smol, LLAMA, trained, parse_args(InferArguments, base))
    assert (untyped.truncation_side, untyped.max_length) == ("left", 64)  # nothing typed: the checkpoint's values
    as_dict = from_dict(InferArguments, {"model": "ckpt", "dataset": ["r.jsonl"], "truncation_side": "right"})
    kept = training_encoder(smol, LLAMA, trained, as_dict)  # infer_main({...}): the dict's keys were chosen
    assert kept.truncation_side == "right" and kept.max_length == 64
