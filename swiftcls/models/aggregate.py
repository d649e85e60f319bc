"""One row's logits from its windows' (``--long_text chunk``): mean or max over the windows of each row.

The collator (swiftcls/data/collators.py) sends every window of a chunked row as a model row of its own, plus
``window_row`` (the row each window belongs to) and ``window_pooling``. Pooling reduces per row with index
operations, so windows of different rows never mix, and the loss, metrics and predictions see one logit vector
per row.
"""

from __future__ import annotations

import torch

# Batch keys written by swiftcls/data/collators.py (same names there).
WINDOW_ROW, WINDOW_POOLING = "window_row", "window_pooling"


def pool_windows(logits: torch.Tensor, window_row: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """Per-row logits ``[rows, num_labels]`` from window logits ``[windows, num_labels]``.

    Args:
        logits: Logits of every window.
        window_row: For each window, the index of its row (0 .. rows-1, every row present).
        pooling: ``mean`` or ``max`` (elementwise, per label).
    """
    window_row = window_row.to(logits.device)
    rows = int(window_row.max()) + 1
    index = window_row.unsqueeze(-1).expand_as(logits)
    reduce = "amax" if pooling == "max" else "mean"
    out = torch.zeros(rows, logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return out.scatter_reduce(0, index, logits, reduce=reduce, include_self=False)


def aggregate(logits: torch.Tensor, batch: dict) -> torch.Tensor:
    """``logits`` pooled per row when ``batch`` holds windows of chunked rows; unchanged otherwise."""
    if WINDOW_ROW not in batch:
        return logits
    return pool_windows(logits, batch[WINDOW_ROW], batch.get(WINDOW_POOLING, "mean"))


def card_note(payload: dict) -> list[str]:
    """Model card lines for a model trained with ``--long_text chunk`` (none otherwise): who pools windows."""
    if payload.get("long_text") != "chunk":
        return []
    return ["## Long texts", "",
            f"Trained with `--long_text chunk`: a text longer than {payload.get('max_length')} tokens is split into "
            f"windows sharing {payload.get('chunk_stride')} tokens (at most {payload.get('max_chunks')}), each scored, "
            f"and the {payload.get('chunk_pooling')} of their logits is the text's. swiftcls (`infer`, `eval`, "
            "`deploy`, `Classifier`) does this from `args.json`. vLLM, plain transformers and other loaders score one "
            f"input: they see the text truncated to {payload.get('max_length')} tokens (vLLM keeps the last ones), "
            "and can predict differently from swiftcls on long texts. To match swiftcls there, split the text the "
            "same way, score each window and pool the logits yourself (see docs/long_text.md of swiftcls).", ""]
