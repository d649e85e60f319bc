"""The classifier forward pass: backbone, last-real-token pooling, head.

Checkpoints keep transformers' own ``*ForSequenceClassification`` layout (``model.*`` + ``score.weight``)
so they load anywhere; swiftcls only replaces the forward pass for decoders so that it pools *before*
the head (no ``[batch, seq, num_labels]`` tensor) and pools by the attention mask, which handles left
and right padding alike. Encoders whose template says ``padding_free`` keep transformers' head code; only their
backbone learns to take a packed row (see :func:`install_packed_encoder`).
"""

from __future__ import annotations

import torch
from transformers.modeling_outputs import BaseModelOutputWithPooling, SequenceClassifierOutput

from ..core.spec import ModelSpec
from .aggregate import aggregate
from .packing import packed_last_hidden


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the last attended position of each row (works for left and right padding)."""
    seq_len = attention_mask.shape[-1]
    return seq_len - 1 - attention_mask.flip(-1).to(torch.int64).argmax(-1)


def pool_last(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """``hidden[b, last_real_token(b)]`` for every row ``b``."""
    idx = last_token_index(attention_mask)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), idx.to(hidden.device)]


def vision_inputs(model, input_ids: torch.Tensor, pixel_values=None, image_grid_thw=None) -> dict:
    """Keyword arguments for the VL backbone: pixels, grids and the token-type map M-RoPE needs."""
    if pixel_values is None:
        return {}
    image_token_id = model.config.image_token_id
    return {"pixel_values": pixel_values, "image_grid_thw": image_grid_thw,
            "mm_token_type_ids": (input_ids == image_token_id).to(torch.int32)}


def install_pooled_forward(model, spec: ModelSpec):
    """Make ``model.forward`` pool the last real token before the head (decoder specs only).

    The forward is replaced on the instance, not wrapped from outside, because DDP, DeepSpeed and PEFT
    only synchronise/patch what runs through ``model(...)``: calling the backbone directly would silently
    skip DDP's gradient all-reduce. The class (and so ``architectures`` in saved configs) is unchanged.

    This uses no transformers internal, so it lives here rather than in core/compat.py. What it relies on is
    that ``Module.__call__`` and PEFT's wrappers call the *instance's* ``forward``; a spy test checks both
    (tests/models/test_modeling.py::test_installed_forward_is_what_callers_run).
    """
    if spec.pooling == "model" and spec.padding_free:
        return install_packed_encoder(model)
    if spec.pooling != "last":
        return model

    def forward(input_ids=None, attention_mask=None, inputs_embeds=None, **kwargs):
        # Looked up per call: PEFT swaps the head for a wrapper after this is installed.
        backbone, head = getattr(model, spec.backbone), getattr(model, spec.head[0])
        if "cu_seq_lens_q" in kwargs:  # a padding-free batch from swiftcls/data/collators.py
            return SequenceClassifierOutput(logits=head(packed_last_hidden(backbone, input_ids, inputs_embeds, kwargs)))
        if attention_mask is None:
            attention_mask = torch.ones(input_ids.shape[:2], dtype=torch.long, device=input_ids.device)
        vision = {}
        if spec.multimodal:  # images: pixels + grids (None for text-only batches), see swiftcls/models/vl.py
            vision = vision_inputs(model, input_ids, kwargs.get("pixel_values"), kwargs.get("image_grid_thw"))
        hidden = backbone(input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
                          use_cache=False, **vision).last_hidden_state
        return SequenceClassifierOutput(logits=head(pool_last(hidden, attention_mask)))

    model.forward = forward
    return model


def install_packed_encoder(model):
    """Let an encoder classifier take packed rows (``cu_seq_lens_q``) and still run transformers' own head.

    The backbone (``model.base_model``: ``bert``, ...) runs the packed row with per-sequence bidirectional attention
    (swiftcls_varlen / flash varlen) and position ids restarting per row, then hands the head what a padded batch
    would have given it at the only position BERT-style heads read, the first token: ``last_hidden_state`` becomes
    ``[n, 1, hidden]`` (each sequence's first token) and ``pooler_output`` the backbone's pooler on it. Padded
    batches run unchanged. Installed on the backbone instance, as :func:`install_pooled_forward` is, so PEFT and
    DDP still see every call.
    """
    backbone = model.base_model
    plain = backbone.forward

    def forward(*args, **kwargs):
        out = plain(*args, **kwargs)
        cu = kwargs.get("cu_seq_lens_q")
        if cu is None:
            return out
        first = out.last_hidden_state[0, cu[:-1].to(device=out.last_hidden_state.device, dtype=torch.long)]
        first = first.unsqueeze(1)
        pooler = getattr(backbone, "pooler", None)
        return BaseModelOutputWithPooling(last_hidden_state=first, pooler_output=pooler(first) if pooler else None)

    backbone.forward = forward
    return model


MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "pixel_values", "image_grid_thw",
                "position_ids", "cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")  # + packed keys


def classifier_logits(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits ``[batch, num_labels]`` for a batch of ``input_ids``/``attention_mask`` (+``token_type_ids``).

    Always goes through ``model(...)`` so wrappers (DDP, DeepSpeed, PEFT) see the call. A batch of chunked rows
    (``--long_text chunk``) gets one pooled logit vector per row (:mod:`swiftcls.models.aggregate`).
    """
    inputs = {k: v for k, v in batch.items() if k in MODEL_INPUTS}
    return aggregate(model(**inputs).logits, batch)
