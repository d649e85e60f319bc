"""Load a checkpoint as a classifier: config with labels, tokenizer with a safe pad token, weights."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from ..core.errors import ConfigError
from ..core.labels import SCORING_TASKS, LabelSpace
from ..core.spec import ModelSpec
from .pooling import install_pooled_forward
from .vl import classifier_class, load_image_processor, register_conversions

logger = logging.getLogger(__name__)


def resolve_dtype(name: str, device: str | None = None) -> torch.dtype:
    """``auto`` is bf16 on a GPU that supports it, float32 elsewhere."""
    if name != "auto":
        return getattr(torch, name)
    on_gpu = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
    return torch.bfloat16 if on_gpu and torch.cuda.is_bf16_supported() else torch.float32


def _check_safetensors(model_dir: str) -> None:
    folder = Path(model_dir)
    if folder.is_dir() and not any(folder.glob("*.safetensors")):
        if (folder / "latest").is_file() and (folder / "zero_to_fp32.py").is_file():
            raise ConfigError(
                f"{model_dir}: a DeepSpeed checkpoint holding only ZeRO shards (its config lacked "
                "stage3_gather_16bit_weights_on_model_save: true). Consolidate it first: python "
                f"{folder / 'zero_to_fp32.py'} {model_dir} {model_dir} --safe_serialization")
        pickles = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt")]
        raise ConfigError(
            f"{model_dir}: no *.safetensors weights{f' (found pickled {pickles})' if pickles else ''}. swiftcls "
            "refuses pickled checkpoints because loading them can run code; convert them to safetensors first "
            "(e.g. load with torch.load(weights_only=True) and save with safetensors.torch.save_file)."
        )


def pick_pad_token(tokenizer, spec: ModelSpec) -> None:
    """Give decoder tokenizers a pad token that can never be mistaken for the prompt's last token.

    Pooling takes the last non-pad token (transformers and vLLM alike), so the pad token must not be
    a token prompts end with; ``eos`` often is, which silently pools the wrong position.
    """
    if spec.kind != "decoder":
        return
    bad = {tokenizer.eos_token} if tokenizer.eos_token else set()
    if tokenizer.pad_token is not None and tokenizer.pad_token not in bad:
        return
    vocab = tokenizer.get_vocab()
    for candidate in spec.pad_token_candidates:
        if candidate in vocab and candidate not in bad:
            tokenizer.pad_token = candidate
            return
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        # No spare token in the vocabulary: eos is still safe because prompts are never closed with eos.
        tokenizer.pad_token = tokenizer.eos_token


def load_tokenizer(model_dir: str, spec: ModelSpec, trust_remote_code: bool = False):
    """The checkpoint's tokenizer with a pad token and the family's padding side."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    pick_pad_token(tokenizer, spec)
    if tokenizer.pad_token is None:
        raise ConfigError(f"{model_dir}: the tokenizer has no pad token and no usable candidate; add one to "
                          f"pad_token_candidates in the '{spec.name}' template.")
    tokenizer.padding_side = spec.padding_side
    return tokenizer


def _classifier_class(spec: ModelSpec):
    if spec.classifier == "auto":
        return AutoModelForSequenceClassification
    register_conversions(spec)
    if spec.backbone_class:  # a classifier transformers lacks (Qwen2-VL & co), built by swiftcls
        return classifier_class(spec)
    if not hasattr(transformers, spec.classifier):
        raise ConfigError(f"template '{spec.name}': transformers {transformers.__version__} has no class "
                          f"{spec.classifier}; upgrade transformers.")
    return getattr(transformers, spec.classifier)


def _new_modules(missing_keys: list[str]) -> list[str]:
    """Top-level module names whose weights were freshly initialised (absent from the checkpoint)."""
    return sorted({key.rsplit(".", 1)[0] for key in missing_keys})


def set_pad_token_id(config, pad_token_id: int) -> None:
    """Set the pad id where every reader looks: the top-level config and a nested ``text_config``
    (transformers' generic VL classifiers, e.g. Qwen3.5, read the latter to find the last real token)."""
    config.pad_token_id = pad_token_id
    config.get_text_config().pad_token_id = pad_token_id


def load_classifier(model_dir: str, spec: ModelSpec, labels: LabelSpace, *, torch_dtype: str = "auto",
                    attn_impl: str | None = None, trust_remote_code: bool = False, device: str | None = None,
                    task: str | None = None):
    """Load ``model_dir`` as a sequence classifier for ``labels``.

    ``task`` (``rm``, ``reranker``) is recorded in the config as ``swiftcls_task``, so a saved checkpoint says what
    its one-output head scores; other loaders keep treating it as an ordinary regression head.

    Returns:
        ``(model, tokenizer, new_modules)``: ``new_modules`` are the modules initialised from scratch
        (the head, and e.g. a BERT pooler missing from the checkpoint); LoRA must train and save them.
    """
    _check_safetensors(model_dir)
    tokenizer = load_tokenizer(model_dir, spec, trust_remote_code)
    config = AutoConfig.from_pretrained(
        model_dir, num_labels=labels.num_labels, id2label=labels.id2label, label2id=labels.label2id,
        problem_type=labels.problem_type, trust_remote_code=trust_remote_code)
    set_pad_token_id(config, tokenizer.pad_token_id)
    if task in SCORING_TASKS:
        config.swiftcls_task = task
    kwargs = {"attn_implementation": attn_impl} if attn_impl else {}
    # transformers' LOAD REPORT lists the head as "MISSING ... newly initialized", which reads as an error (and at
    # export, where the head comes from the adapters next, as if it stayed random); swiftcls reports the new
    # modules itself (sft: "new classification head: ..."), so transformers only speaks here for errors.
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        model, info = _classifier_class(spec).from_pretrained(
            model_dir, config=config, dtype=resolve_dtype(torch_dtype, device), use_safetensors=True,
            trust_remote_code=trust_remote_code, output_loading_info=True, ignore_mismatched_sizes=True, **kwargs)
    finally:
        transformers.logging.set_verbosity(verbosity)
    mismatched = [key for key, *_ in info.get("mismatched_keys", [])]
    new = _new_modules(list(info.get("missing_keys", [])) + mismatched)
    logger.debug("Initialised from scratch: %s", new)
    if spec.multimodal:  # the Collator and PromptEncoder find the image processor next to the tokenizer
        tokenizer.image_processor = load_image_processor(model_dir)
    return install_pooled_forward(model, spec), tokenizer, new
