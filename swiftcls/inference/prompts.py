"""The prompt formatting a checkpoint was trained with, read back from its ``args.json``."""

from __future__ import annotations

import logging
from dataclasses import fields

from ..config.data import DataArguments
from ..data.chunking import ChunkConfig
from ..data.encode import PromptEncoder

logger = logging.getLogger(__name__)

# Prompt settings saved in args.json (name there) that decide how rows are tokenized.
PROMPT_FIELDS = {"max_length": "max_length", "use_chat_template": "chat_template_applied", "system": "system",
                 "truncation_side": "truncation_side", "min_pixels": "min_pixels", "max_pixels": "max_pixels",
                 "long_text": "long_text", "chunk_stride": "chunk_stride", "chunk_pooling": "chunk_pooling",
                 "max_chunks": "max_chunks"}


def training_encoder(tokenizer, spec, train: dict, data_args: DataArguments | None = None) -> PromptEncoder:
    """The prompt formatting a checkpoint was trained with (its ``args.json``), so inference formats rows as in
    training by default.

    A flag in ``data_args`` that differs from its default is an explicit choice and wins over ``args.json`` (as in
    SWIFT), with a warning when the values differ; ``data_args`` also fills what a foreign checkpoint lacks.
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
    return PromptEncoder(tokenizer, spec, chosen["max_length"], chosen["use_chat_template"], chosen["system"],
                         chosen["truncation_side"], chosen["min_pixels"], chosen["max_pixels"], chosen["long_text"],
                         ChunkConfig(chosen["chunk_stride"], chosen["chunk_pooling"], chosen["max_chunks"]))
