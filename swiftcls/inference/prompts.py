"""The prompt formatting a checkpoint was trained with, read back from its ``args.json``."""

from __future__ import annotations

import logging
from dataclasses import fields

from ..config.data import DataArguments
from ..core.prompt_template import fill_labels
from ..data.encode import PromptEncoder

logger = logging.getLogger(__name__)

# Prompt settings saved in args.json (name there) that decide how rows are tokenized.
PROMPT_FIELDS = {"max_length": "max_length", "use_chat_template": "chat_template_applied", "system": "system",
                 "truncation_side": "truncation_side", "min_pixels": "min_pixels", "max_pixels": "max_pixels"}


def training_encoder(tokenizer, spec, train: dict, data_args: DataArguments | None = None,
                     labels: list[str] | None = None) -> PromptEncoder:
    """The prompt formatting a checkpoint was trained with (its ``args.json``), so inference formats rows as in
    training by default.

    A flag in ``data_args`` that differs from its default is an explicit choice and wins over ``args.json`` (as in
    SWIFT), with a warning when the values differ; ``data_args`` also fills what a foreign checkpoint lacks. So does
    ``--prompt`` (args.json ``prompt``), whose ``{labels}`` (and the system prompt's) become ``labels``, by default the
    names saved in args.json.
    """
    defaults = {f.name: f.default for f in fields(DataArguments)}
    chosen = {}
    for name, saved_as in PROMPT_FIELDS.items():
        given = getattr(data_args, name) if data_args else defaults[name]
        if saved_as not in train or given != defaults[name]:
            chosen[name] = given
            if saved_as in train and given != train[saved_as]:
                logger.warning("--%s %r differs from the value the checkpoint was trained with (%r, args.json); "
                               "using %r, so rows are formatted differently from training.",
                               name, given, train[saved_as], given)
        else:
            chosen[name] = train[saved_as]
    prompt = getattr(data_args, "prompt", None)
    if prompt is None:
        prompt = train.get("prompt")
    elif train.get("prompt") not in (None, prompt):
        logger.warning("--prompt %r differs from the prompt the checkpoint was trained with (%r, args.json); using "
                       "--prompt.", prompt, train["prompt"])
    names = labels or train.get("label_names") or []
    return PromptEncoder(tokenizer, spec, chosen["max_length"], chosen["use_chat_template"],
                         fill_labels(chosen["system"], names), chosen["truncation_side"], chosen["min_pixels"],
                         chosen["max_pixels"], fill_labels(prompt, names))
