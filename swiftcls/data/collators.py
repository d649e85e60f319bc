"""Batch collators: padded rows (dynamic padding, image pixels per batch) or one packed row without pad tokens.

Packed (padding-free) batches: ``n`` rows become one row of ``sum(len_i)`` tokens; ``position_ids`` restart at 0 for
every sequence and ``cu_seq_lens_*`` mark the boundaries (see :mod:`swiftcls.models.packing` for how the model
attends within each sequence).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.labels import SINGLE
from .chunking import POOLING, WINDOWS, as_windows
from .images import open_image, process_images

# Batch keys of chunked rows (--long_text chunk): the row each window belongs to and how their logits are pooled,
# read by swiftcls/models/aggregate.py.
WINDOW_ROW, WINDOW_POOLING = "window_row", "window_pooling"


def flatten_windows(rows: list[dict]) -> tuple[list[dict], dict]:
    """A batch's model rows (every window of a chunked row, in row order) and the batch keys mapping windows back
    to rows; rows without windows give themselves and no keys, so such batches are exactly as before."""
    if not any(WINDOWS in r for r in rows):
        return rows, {}
    windows = [as_windows(r) for r in rows]
    owner = [i for i, ws in enumerate(windows) for _ in ws]
    pooling = next(r[POOLING] for r in rows if WINDOWS in r)
    return [w for ws in windows for w in ws], {WINDOW_ROW: torch.tensor(owner, dtype=torch.long),
                                               WINDOW_POOLING: pooling}


def _with_labels_first(rows: list[dict], tensors: dict, dtype: torch.dtype) -> dict:
    """``tensors`` with the rows' labels as first key: Trainer's find_batch_size reads the first tensor, which must
    count rows, not windows or 1 (packed)."""
    if "labels" not in rows[0]:
        return tensors
    return {"labels": torch.tensor([r["labels"] for r in rows], dtype=dtype), **tensors}


def label_dtype(problem_type: str, grouped: bool = False) -> torch.dtype:
    """Class ids are long; multi-hot vectors and scores are float; the ``[target, group, margin]`` labels of grouped
    rows are float64, which holds group ids exactly up to 2**53 (float32 only to 2**24)."""
    if grouped:
        return torch.float64
    return torch.long if problem_type == SINGLE else torch.float32


@dataclass
class Collator:
    """Pads a batch to its longest row (dynamic padding) and stacks labels with the right dtype.

    Rows with ``images`` (multimodal models): their images are loaded and processed here, per batch, and
    concatenated in row order into ``pixel_values`` / ``image_grid_thw`` (the order of the image tokens).
    """

    pad_token_id: int
    padding_side: str = "right"
    label_dtype: torch.dtype = torch.long
    image_processor: object = None

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        windows, keys = flatten_windows(rows)
        return _with_labels_first(rows, {**self._pad(windows), **keys}, self.label_dtype)

    def _pad(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(r["input_ids"]) for r in rows)
        batch = {"input_ids": [], "attention_mask": []}
        has_types = "token_type_ids" in rows[0]
        if has_types:
            batch["token_type_ids"] = []
        for r in rows:
            n, pad = len(r["input_ids"]), longest - len(r["input_ids"])
            parts = {"input_ids": (r["input_ids"], self.pad_token_id), "attention_mask": ([1] * n, 0)}
            if has_types:
                parts["token_type_ids"] = (r["token_type_ids"], 0)
            for key, (values, fill) in parts.items():
                batch[key].append([fill] * pad + values if self.padding_side == "left" else values + [fill] * pad)
        tensors = {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}
        images = [path for r in rows for path in r.get("images", ())]
        if images:
            tensors.update(process_images(self.image_processor, [open_image(Path(p), {}) for p in images]))
        return tensors


@dataclass
class PackingCollator:
    """Concatenates a batch's rows into one padding-free row and stacks labels with the right dtype."""

    label_dtype: torch.dtype = torch.long

    def __call__(self, rows: list[dict]) -> dict:
        windows, keys = flatten_windows(rows)  # each window is one packed sequence
        lengths = [len(w["input_ids"]) for w in windows]
        cu = torch.tensor([0, *itertools.accumulate(lengths)], dtype=torch.int32)
        batch = {
            "input_ids": torch.tensor([[t for w in windows for t in w["input_ids"]]], dtype=torch.long),
            "position_ids": torch.tensor([[p for n in lengths for p in range(n)]], dtype=torch.long),
            **({"token_type_ids": torch.tensor([[t for w in windows for t in w["token_type_ids"]]], dtype=torch.long)}
               if "token_type_ids" in windows[0] else {}),  # BERT-style sentence pairs (per window when chunked)
            "cu_seq_lens_q": cu, "cu_seq_lens_k": cu, "max_length_q": max(lengths), "max_length_k": max(lengths),
        }
        return _with_labels_first(rows, {**batch, **keys}, self.label_dtype)


@dataclass
class GroupCollator:
    """Flattens items that are whole groups (``{"rows": [...]}``, rm pairs and reranker queries) into one batch of
    their rows, in order, for ``inner``; plain rows pass through. A group is therefore never split across batches
    (nor across processes): ``--per_device_train_batch_size`` counts groups, as in ms-swift."""

    inner: Collator | PackingCollator

    def __call__(self, items: list[dict]) -> dict:
        return self.inner([row for item in items for row in item.get("rows", [item])])


def make_collator(packed: bool, pad_token_id: int, padding_side: str = "right", image_processor=None,
                  label_dtype=torch.long, groups: bool = False):
    """The batch collator for a model: packed rows (no pad tokens) when ``packed``, else dynamically padded rows
    (which also turn image rows into pixels); ``groups`` flattens whole-group items (:class:`GroupCollator`)."""
    inner = PackingCollator(label_dtype) if packed else Collator(pad_token_id, padding_side, label_dtype,
                                                                 image_processor)
    return GroupCollator(inner) if groups else inner
