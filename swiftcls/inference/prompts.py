"""The prompt formatting a checkpoint was trained with, read back from its ``args.json``; vLLM's score template
of it."""

from __future__ import annotations

import json
import logging
from dataclasses import fields

from ..config.data import DataArguments
from ..config.parser import given_flags
from ..core.prompt_template import SYSTEM_DEFAULT, fill_labels
from ..data.chunking import ChunkConfig
from ..data.dataset import Example
from ..data.encode import PromptEncoder

logger = logging.getLogger(__name__)

# Prompt settings saved in args.json (name there) that decide how rows are tokenized.
PROMPT_FIELDS = {"max_length": "max_length", "use_chat_template": "chat_template_applied", "system": "system",
                 "truncation_side": "truncation_side", "min_pixels": "min_pixels", "max_pixels": "max_pixels",
                 "long_text": "long_text", "chunk_stride": "chunk_stride", "chunk_pooling": "chunk_pooling",
                 "max_chunks": "max_chunks"}
# args.json field saying whether the chat template's default system prompt is in the prompts (``--system default``);
# a checkpoint without it predates lean prompts, and its rows without ``--system`` were formatted with that default.
DEFAULT_SYSTEM_FIELD = "default_system_prompt"


def lean_fields(system: str | None) -> dict:
    """What a new ``args.json`` records of the system prompt choice, so infer/eval/deploy/export build the prompts of
    training (see :data:`DEFAULT_SYSTEM_FIELD`)."""
    return {DEFAULT_SYSTEM_FIELD: system == SYSTEM_DEFAULT}


def training_encoder(tokenizer, spec, train: dict, data_args: DataArguments | None = None,
                     labels: list[str] | None = None) -> PromptEncoder:
    """The prompt formatting a checkpoint was trained with (its ``args.json``), so inference formats rows as in
    training by default. A checkpoint trained before lean prompts (no :data:`DEFAULT_SYSTEM_FIELD` in its
    ``args.json``) and without ``--system`` keeps the chat template's default system prompt, as it was trained with.

    A flag set in ``data_args`` (on the command line or in a config, even to its default value; for an instance
    built in Python, a value differing from the default) is an explicit choice and wins over ``args.json`` (as in
    SWIFT), with a warning when the values differ; ``data_args`` also fills what a foreign checkpoint lacks. So does
    ``--prompt`` (args.json ``prompt``), whose ``{labels}`` (and the system prompt's) become ``labels``, by default the
    names saved in args.json.
    """
    defaults = {f.name: f.default for f in fields(DataArguments)}
    explicit = given_flags(data_args)

    def chose(name: str) -> bool:  # a flag set on the command line / in a config, or (Python) unlike its default
        if data_args is None:
            return False
        return name in explicit if explicit is not None else getattr(data_args, name) != defaults[name]

    given_system = chose("system")
    chosen = {}
    for name, saved_as in PROMPT_FIELDS.items():
        given = getattr(data_args, name) if data_args else defaults[name]
        if saved_as not in train or chose(name):
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
    if not chosen["system"] and not given_system and DEFAULT_SYSTEM_FIELD not in train and train:
        chosen["system"] = SYSTEM_DEFAULT  # trained before lean prompts: keep the template's default system prompt
    names = labels or train.get("label_names") or []
    return PromptEncoder(tokenizer, spec, chosen["max_length"], chosen["use_chat_template"],
                         fill_labels(chosen["system"], names), chosen["truncation_side"], chosen["min_pixels"],
                         chosen["max_pixels"], long_text=chosen["long_text"],
                         chunk=ChunkConfig(chosen["chunk_stride"], chosen["chunk_pooling"], chosen["max_chunks"]),
                         prompt=fill_labels(prompt, names))


SCORE_TEMPLATE = "score_template.jinja"
_QUERY, _DOCUMENT = "\x00swiftcls-query\x00", "\x00swiftcls-document\x00"


def score_template(encoder: PromptEncoder) -> str | None:
    """A Jinja template that makes vLLM's ``/score`` and ``/rerank`` build swiftcls's decoder pair prompt.

    vLLM 0.32 renders a cross-encoder's (query, document) pair through the ``--chat-template`` it is given (offline:
    ``LLM.score(..., chat_template=...)``) as the messages ``[{"role": "query"}, {"role": "document"}]`` and
    tokenizes the result with the special tokens; without one, a decoder gets ``tokenizer(query, document)``, which
    is not what swiftcls trained on. This template is swiftcls's prompt for a ``text``/``text_pair`` row (one user
    turn ``"query\\ndocument"`` of the chat template, with the training ``--system``; or ``query\\ndocument`` without
    a chat template; either way inside the training ``--prompt``, if any), fixed at export, with the two texts put
    where they go. The text around them is written as Jinja string literals, so no whitespace control of the
    template engine can change it.

    Args:
        encoder: The checkpoint's training formatting (:func:`training_encoder`).

    Returns:
        The template, or None for encoders (vLLM's ``tokenizer(query, document)`` is already swiftcls's prompt).
    """
    if encoder.spec.kind != "decoder":
        return None
    # The row's prompt string: the chat prompt, or (no chat template) the text itself; either inside --prompt
    prefix, rest = encoder.prompt_string(Example(_QUERY, _DOCUMENT)).split(_QUERY)
    middle, suffix = rest.split(_DOCUMENT)
    if encoder.chat:  # vLLM tokenizes with the special tokens: a BOS the tokenizer adds must not come twice.
        lead = _added_prefix(encoder.tokenizer)
        if lead and prefix.startswith(lead):
            prefix = prefix[len(lead):]
    # (no chat template: swiftcls tokenizes the prompt string with the special tokens, as vLLM does)
    return (f"{_literal(prefix)}{{{{ messages[0]['content'] }}}}{_literal(middle)}"
            f"{{{{ messages[1]['content'] }}}}{_literal(suffix)}")


def _added_prefix(tokenizer) -> str:
    """The text of the special tokens the tokenizer puts before a text (a BOS), or ``""``."""
    full, plain = tokenizer("x")["input_ids"], tokenizer("x", add_special_tokens=False)["input_ids"]
    if len(full) <= len(plain) or full[len(full) - len(plain):] != plain:
        return ""
    return tokenizer.decode(full[:len(full) - len(plain)])


def _literal(text: str) -> str:
    """``text`` as a Jinja expression printing it verbatim (a JSON string is a valid Jinja string literal)."""
    return "{{ " + json.dumps(text, ensure_ascii=False) + " }}" if text else ""
