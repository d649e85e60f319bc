"""Label-name heads for ``sft --head_init label_names`` and ``infer --zero_shot`` (docs/zero_shot.md).

The head is copied from the LM head at the label names' first answer tokens (:mod:`swiftcls.models.head_init`);
where the answer starts is read from the prompt encoder, so training, prediction and export format rows alike.
"""

from __future__ import annotations

import logging
import os

from ..config.infer import InferArguments
from ..core.errors import ConfigError
from ..core.labels import SINGLE, LabelSpace, read_label_names
from ..core.spec import ModelSpec, spec_for_config
from ..core.version import __version__
from ..data.dataset import Example
from ..data.encode import PromptEncoder
from ..models.head_init import answer_token_ids, init_label_name_head
from ..models.loading import load_classifier
from ..models.registry import read_model_type, resolve_model
from .prompts import lean_fields, training_encoder

logger = logging.getLogger(__name__)


def check_label_head(spec: ModelSpec, space: LabelSpace, flag: str = "--head_init label_names") -> None:
    """Raise :class:`ConfigError` unless a label-name head fits: a text decoder and single-label classes."""
    if spec.kind != "decoder":
        raise ConfigError(f"{flag} needs a decoder LLM (its LM head scores the label names); model family "
                          f"'{spec.name}' is an encoder, whose head starts at random. Use --head_init random, or a "
                          "decoder such as SmolLM2 or Qwen2.5.")
    if space.problem_type != SINGLE:
        raise ConfigError(f"{flag} is for single-label classification (the LM answers with one label); this task is "
                          f"{space.problem_type}. Use --head_init random.")


def label_name_head(model, spec: ModelSpec, model_dir: str, encoder: PromptEncoder, space: LabelSpace) -> list[int]:
    """Copy the LM head rows of the labels' first answer tokens into ``model``'s classification head.

    Args:
        model: The classifier (before LoRA wraps it).
        spec: Its family spec.
        model_dir: The base checkpoint folder, whose LM head is read.
        encoder: The prompt encoder rows go through; its prompt's end is where the LM answers.
        space: The labels, in id order.

    Returns:
        The answer token id of each label.
    """
    check_label_head(spec, space)
    ids = answer_token_ids(encoder.tokenizer, space.names, encoder.prompt_string(Example("")))
    init_label_name_head(model, spec.head[0], model_dir, ids)
    logger.info("label-name head: %s", ", ".join(f"{name!r} -> token {encoder.tokenizer.decode([i])!r}"
                                                 for name, i in zip(space.names, ids)))
    return ids


def load_zero_shot(args: InferArguments, device: str | None = None):
    """A base LLM as a classifier of ``args.labels`` with a label-name head, untrained.

    Returns:
        ``(model, tokenizer, spec, label_space, payload, encoder)``; ``payload`` is what an ``args.json`` of such a
        classifier holds (labels, prompt), so it predicts and exports like a trained one.
    """
    model_dir = resolve_model(args.model, args.use_hf, args.model_revision)
    spec = spec_for_config(read_model_type(model_dir))
    names = read_label_names(args.labels)
    if len(set(names)) != len(names):
        raise ConfigError(f"--labels {names}: a name is given twice; each class needs one unique name.")
    space = LabelSpace(SINGLE, names)
    check_label_head(spec, space, "--zero_shot")
    model, tokenizer, _ = load_classifier(model_dir, spec, space, torch_dtype=args.torch_dtype,
                                          attn_impl=args.attn_impl, trust_remote_code=args.trust_remote_code,
                                          device=device)
    payload = {"model": args.model, "model_dir": os.path.abspath(model_dir), "model_type": spec.name,
               "problem_type": SINGLE, "label_names": names, "prompt": args.prompt, "head_init": "label_names",
               "zero_shot": True, "swiftcls_version": __version__, **lean_fields(args.system)}
    encoder = training_encoder(tokenizer, spec, payload, args, names)
    payload["chat_template_applied"] = encoder.chat
    label_name_head(model, spec, model_dir, encoder, space)
    return model.eval(), tokenizer, spec, space, payload, encoder
