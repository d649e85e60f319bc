"""The classifier forward pass: backbone, last-real-token pooling, head.

Checkpoints keep transformers' own ``*ForSequenceClassification`` layout (``model.*`` + ``score.weight``)
so they load anywhere; swiftcls only replaces the forward pass for decoders so that it pools *before*
the head (no ``[batch, seq, num_labels]`` tensor) and pools by the attention mask, which handles left
and right padding alike.
"""

from __future__ import annotations

import torch

from .registry import ModelSpec


def unwrap(model):
    """The transformers model under PEFT / DDP / DeepSpeed wrappers."""
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module
    if hasattr(model, "get_base_model"):
        model = model.get_base_model()
    return model


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last attended position of each row (works for left and right padding)."""
    seq_len = attention_mask.shape[-1]
    return seq_len - 1 - attention_mask.flip(-1).to(torch.int64).argmax(-1)


def pool_last(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``hidden[b, last_real_token(b)]`` for every row ``b``."""
    idx = last_token_index(attention_mask)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx.to(hidden.device)]


def classifier_logits(model, spec: ModelSpec, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits ``[batch, num_labels]`` for a batch of ``input_ids``/``attention_mask`` (+``token_type_ids``)."""
    inputs = {k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
    if spec.pooling == "model":
        return model(**inputs).logits
    base = unwrap(model)
    backbone = getattr(base, spec.backbone)
    hidden = backbone(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                      use_cache=False).last_hidden_state
    pooled = pool_last(hidden, inputs["attention_mask"])
    return getattr(base, spec.head[0])(pooled)
