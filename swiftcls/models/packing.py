"""Padding-free (packed) batches for causal decoders and BERT-style encoders.

A batch of ``n`` rows becomes one row of ``sum(len_i)`` tokens: no pad token is ever computed. ``position_ids``
restart at 0 for every sequence, which is how transformers (5.x) recognises packed input:

* ``sdpa`` / ``eager`` / ``flex_attention``: ``masking_utils.find_packed_sequence_indices`` turns the position ids
  into a block-diagonal causal mask (only when no 2-D ``attention_mask`` is passed, so none is). sdpa/eager
  materialise that ``[1, 1, T, T]`` mask and compute the full ``T x T`` scores; flex skips the masked blocks.
* ``flash_attention_*``: ``modeling_flash_attention_utils._flash_attention_forward`` runs ``flash_varlen_fn``
  with the ``cu_seq_lens_q/k`` and ``max_length_q/k`` the collator precomputes (no per-layer recomputation).
* ``swiftcls_varlen`` (swiftcls/models/varlen.py, the default unless flash-attn is installed on CUDA): torch's own
  varlen kernel with the same ``cu_seq_lens`` on CUDA, sdpa on the rows padded for the attention alone on CPU.

The classifier then pools the last token of each sequence (``cu_seq_lens[1:] - 1``) before the head, so logits,
loss and gradients equal those of padded training (tests/models/test_padding_free.py checks this). Encoders attend
bidirectionally within each sequence and their head reads each sequence's first token
(:func:`swiftcls.models.pooling.install_packed_encoder`). Which families pack is their template's ``padding_free``.
"""

from __future__ import annotations

import importlib.util
import logging

import torch

from ..core.compat import attn_implementation
from ..core.spec import ModelSpec
from . import varlen

logger = logging.getLogger(__name__)

FLASH_KEYS = ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")
PACKED_INPUTS = ("position_ids", *FLASH_KEYS)
MASKED_IMPLS = ("sdpa", "eager", "flex_attention")


def padding_free_reason(spec: ModelSpec, attn_impl: str | None) -> str | None:
    """Why padding-free batches cannot be used for this model (None when they can)."""
    if spec.multimodal:
        return f"'{spec.name}' is an image+text model (vision token positions are not packed)"
    if not spec.padding_free:
        if spec.kind != "decoder":
            return (f"'{spec.name}' is an encoder whose template does not say 'padding_free: true' (its position ids "
                    "or attention may not restart per packed row)")
        return (f"the '{spec.name}' template does not say 'padding_free: true' (set it once packed logits are "
                "checked to equal padded ones, see docs/models.md)")
    if spec.kind != "decoder" and attn_impl and not uses_cu_seqlens(attn_impl):
        # transformers builds a per-sequence mask from restarting position ids only for causal masks
        return f"encoders pack only with a varlen attention (swiftcls_varlen, flash_attention_2), not '{attn_impl}'"
    if attn_impl and attn_impl not in MASKED_IMPLS and not uses_cu_seqlens(attn_impl):
        return f"attention '{attn_impl}' cannot confine attention to each packed sequence"
    return None


def use_padding_free(requested: bool, spec: ModelSpec, model, attn_impl: str | None = None,
                     device: str | None = None) -> bool:
    """Whether to pack this model's batches; logs one line when ``--padding_free true`` falls back to padding.

    When packing and the user chose no attention (``attn_impl`` None), the model is switched to the varlen
    kernel :func:`pick_attn_impl` picks. Models that stay padded keep the attention they were loaded with.
    """
    if not requested:
        return False
    if not getattr(model, "supports_packing", True):  # e.g. an ONNX graph, traced with padded inputs
        logger.info("--padding_free: using padded batches because %s runs padded inputs only.", type(model).__name__)
        return False
    config = model.config
    reason = padding_free_reason(spec, attn_impl)
    if reason:
        # INFO, not WARNING: --padding_free is on by default and padded batches are the expected path here.
        logger.info("--padding_free: using padded batches because %s.", reason)
        return False
    if not attn_impl:
        model.set_attn_implementation(pick_attn_impl(None, True, device))
    impl = attn_implementation(config)
    if impl in ("sdpa", "eager") and torch.cuda.is_available():
        logger.warning("--padding_free with %s attention computes a dense [T, T] block-diagonal mask per batch; "
                       "leave --attn_impl unset for varlen kernels (flash_attention_2 or swiftcls_varlen).", impl)
    logger.info("Padding-free batches (attention: %s).", impl)
    return True


def uses_cu_seqlens(attn_impl: str | None) -> bool:
    """Attention implementations that read ``cu_seq_lens_q/k`` (varlen kernels) instead of a mask."""
    return bool(attn_impl) and ("flash" in attn_impl or attn_impl == varlen.NAME)


def known_attn(attn_impl: str | None) -> str | None:
    """``attn_impl`` unchanged, after registering ``swiftcls_varlen`` with transformers when that is the choice."""
    return pick_attn_impl(attn_impl, False)


def pick_attn_impl(attn_impl: str | None, padding_free: bool, device: str | None = None) -> str | None:
    """The attention for a model: the user's choice, else a varlen kernel for padding-free batches.

    ``flash_attention_2`` on CUDA when the flash-attn package is installed, else ``swiftcls_varlen`` (torch's
    varlen kernel on CUDA, sdpa on rows padded for the attention alone on CPU; faster than sdpa's dense block-diagonal
    mask, see docs/performance.md). Padded batches with ``swiftcls_varlen`` run plain sdpa.
    """
    if attn_impl == varlen.NAME:
        varlen.register()
    if attn_impl or not padding_free:
        return attn_impl
    on_gpu = torch.cuda.is_available() and (device is None or device.startswith("cuda"))
    return "flash_attention_2" if on_gpu and importlib.util.find_spec("flash_attn") else varlen.register()


def packed_last_hidden(backbone, input_ids, inputs_embeds, packed: dict) -> torch.Tensor:
    """Run the backbone on a packed row and return each sequence's last-token hidden state ``[n, hidden]``."""
    impl = attn_implementation(backbone.config)
    extra = {k: packed[k] for k in FLASH_KEYS} if uses_cu_seqlens(impl) else {}
    hidden = backbone(input_ids=input_ids, inputs_embeds=inputs_embeds, position_ids=packed["position_ids"],
                      attention_mask=None, use_cache=False, **extra).last_hidden_state
    last = packed["cu_seq_lens_q"][1:].to(device=hidden.device, dtype=torch.long) - 1
    return hidden[0, last]
