"""``swiftcls_varlen`` attention: per-sequence attention for packed batches without the flash-attn package.

transformers' own padding-free fast path needs ``flash_attention_2`` (the flash-attn wheel). torch 2.13 ships
a varlen flash kernel itself, ``torch.nn.attention.varlen.varlen_attn`` (CUDA, fp16/bf16), which takes the
same ``cu_seqlens`` as flash-attn. This module registers it with transformers' ``AttentionInterface``:

* packed batches (``cu_seq_lens_q`` passed by swiftcls/data/collators.py): ``varlen_attn`` on CUDA with fp16/bf16;
  elsewhere (CPU, fp32) ``scaled_dot_product_attention`` on the sequences gathered into a padded batch for the
  attention alone (the projections and MLPs, most of the work, stay packed), or, when the lengths differ so much
  that padding would multiply the attention work, one call per sequence -- never the dense ``[T, T]`` mask sdpa
  would need. Causal for decoders, bidirectional for encoders (the attention module's ``is_causal``);
* anything else (padded batches, one sequence): transformers' ``sdpa`` attention with its usual mask.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.compat import register_attention, sdpa_attention_forward, sdpa_mask

NAME = "swiftcls_varlen"


def varlen_kernel_available(query: torch.Tensor) -> bool:
    """Whether torch's varlen flash kernel can run on ``query`` (CUDA, half precision)."""
    try:
        from torch.nn.attention.varlen import varlen_attn  # noqa: F401 - absent from older torch builds
    except ImportError:
        return False
    return query.is_cuda and query.dtype in (torch.float16, torch.bfloat16)


def _segments_sdpa(q, k, v, cu: list[int], scale, causal: bool = True, dropout: float = 0.0) -> torch.Tensor:
    """Attention of each packed sequence on its own; q/k/v ``[H, T, D]`` -> ``[T, H, D]``."""
    outs = [F.scaled_dot_product_attention(q[:, a:b], k[:, a:b], v[:, a:b], is_causal=causal, scale=scale,
                                           dropout_p=dropout)
            for a, b in zip(cu[:-1], cu[1:])]
    return torch.cat(outs, dim=1).transpose(0, 1)


def _padded_sdpa(q, k, v, cu: torch.Tensor, scale, causal: bool = True, dropout: float = 0.0) -> torch.Tensor:
    """The same attention as :func:`_segments_sdpa` in one sdpa call: the packed sequences are gathered into a padded
    ``[n, H, max_len, D]`` batch for the attention alone (projections and MLPs stay packed), pad keys masked.

    With right padding a causal query never sees a pad key, so only bidirectional attention needs the key mask.
    Gathers and scatters are ``index_select`` on one flat index: their backward is ``index_add_``, where advanced
    indexing (``x[:, index]``, ``out[mask]``) would run the sort-based ``index_put_`` backward (see
    docs/performance.md, profile).
    """
    layout = _layout(cu, q.device)
    n, length = layout.valid.shape
    q, k, v = (x.index_select(1, layout.gather).unflatten(1, (n, length)).transpose(0, 1) for x in (q, k, v))
    mask = None if causal else layout.valid[:, None, None, :]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal, scale=scale, dropout_p=dropout)
    return out.transpose(1, 2).flatten(0, 1).index_select(0, layout.keep)  # [T, H, D], in packed order


class _Layout:
    """Where each packed token sits in the padded ``[n, max_len]`` attention batch (one per batch, shared by layers).

    Attributes:
        valid: ``[n, L]`` real-token mask.
        gather: ``[n * L]`` packed index of every padded slot (pads read token 0; masked or discarded).
        keep: ``[T]`` padded slot of every packed token, in packed order.
    """

    def __init__(self, cu: torch.Tensor, device: torch.device):
        cu = cu.to(device, torch.long)
        lengths = cu[1:] - cu[:-1]
        steps = torch.arange(int(lengths.max()), device=device)
        self.valid = steps[None] < lengths[:, None]
        self.gather = torch.where(self.valid, cu[:-1, None] + steps[None], 0).flatten()
        self.keep = self.valid.flatten().nonzero().squeeze(1)


_last: tuple = (None, None, None)  # (cu tensor, device, layout): every layer of a forward passes the same cu tensor


def _layout(cu: torch.Tensor, device: torch.device) -> _Layout:
    """The batch's :class:`_Layout`, built once per ``cu_seq_lens`` tensor instead of once per layer. Keyed by the
    tensor object itself (held, so its id cannot be reused) and the device; the tuple is replaced whole, so threads
    running other batches at the same time never read each other's layout."""
    global _last
    held_cu, held_device, layout = _last
    if held_cu is not cu or held_device != device:
        layout = _Layout(cu, device)
        _last = (cu, device, layout)
    return layout


SHORT = 64  # sequences up to this many tokens always take the padded call (see _cpu_attention)


def _cpu_attention(q, k, v, cu: torch.Tensor, scale, causal: bool, dropout: float) -> torch.Tensor:
    """Packed attention without a varlen kernel: one padded sdpa call when padding adds at most 4x the attention
    work or no sequence is longer than :data:`SHORT` tokens, else one call per sequence. At short lengths the padded
    scores cost less than a loop's per-call overhead (a classification batch of 32 rows of 5-40 tokens ran 12 small
    ops per row and layer; profile in docs/performance.md), and both are small next to the projections."""
    lengths = (cu[1:] - cu[:-1]).tolist()
    longest = max(lengths)
    if longest <= SHORT or len(lengths) * longest ** 2 <= 4 * sum(n * n for n in lengths):
        return _padded_sdpa(q, k, v, cu, scale, causal, dropout)
    return _segments_sdpa(q, k, v, cu.tolist(), scale, causal, dropout)


def varlen_attention_forward(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None,
                             cu_seq_lens_q=None, cu_seq_lens_k=None, max_length_q=None, max_length_k=None,
                             **kwargs):
    """transformers attention function: ``query`` ``[1, H, T, D]`` -> ``([1, T, H, D], None)``."""
    if cu_seq_lens_q is None or query.shape[0] != 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    dropout = dropout if getattr(module, "training", False) else 0.0  # BERT's attention dropout: training only
    groups = query.shape[1] // key.shape[1]
    causal = getattr(module, "is_causal", True)  # False in BERT-style encoders' self-attention
    if varlen_kernel_available(query) and not dropout:  # torch's varlen kernel has no dropout
        from torch.nn.attention.varlen import varlen_attn  # present: varlen_kernel_available checked it

        # [T, H, D] contiguous, keys/values expanded to every query head (torch's cuDNN varlen backend rejects GQA).
        q = query[0].transpose(0, 1).contiguous()
        k, v = (x[0].transpose(0, 1).repeat_interleave(groups, dim=1) if groups > 1 else
                x[0].transpose(0, 1).contiguous() for x in (key, value))
        cu_q = cu_seq_lens_q.to(query.device, torch.int32)
        cu_k = cu_q if cu_seq_lens_k is None else cu_seq_lens_k.to(query.device, torch.int32)
        out = varlen_attn(q, k, v, cu_q, cu_k, int(max_length_q), int(max_length_k or max_length_q), scale=scaling,
                          window_size=(-1, 0) if causal else (-1, -1))
    else:
        k, v = (x[0].repeat_interleave(groups, dim=0) if groups > 1 else x[0] for x in (key, value))
        out = _cpu_attention(query[0], k, v, cu_seq_lens_q, scaling, causal, dropout)
    return out.unsqueeze(0), None


def _mask(*args, attention_mask=None, **kwargs):
    """No mask for packed or unpadded input (causality is in the kernel); sdpa's mask for padded batches (causal or
    bidirectional: transformers passes the mask function it needs)."""
    if attention_mask is None:
        return None
    return sdpa_mask(*args, attention_mask=attention_mask, **kwargs)


def register() -> str:
    """Make ``attn_implementation="swiftcls_varlen"`` known to transformers (idempotent); returns the name."""
    register_attention(NAME, varlen_attention_forward, _mask)
    return NAME
