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
from .images import open_image, process_images


def label_dtype(problem_type: str) -> torch.dtype:
    """Class ids are long; multi-hot vectors and scores are float."""
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
        if "labels" in rows[0]:
            tensors["labels"] = torch.tensor([r["labels"] for r in rows], dtype=self.label_dtype)
        images = [path for r in rows for path in r.get("images", ())]
        if images:
            tensors.update(process_images(self.image_processor, [open_image(Path(p), {}) for p in images]))
        return tensors


@dataclass
class PackingCollator:
    """Concatenates a batch's rows into one padding-free row and stacks labels with the right dtype."""

    label_dtype: torch.dtype = torch.long

    def __call__(self, rows: list[dict]) -> dict:
        lengths = [len(r["input_ids"]) for r in rows]
        cu = torch.tensor([0, *itertools.accumulate(lengths)], dtype=torch.int32)
        batch = {}
        if "labels" in rows[0]:
            # First key: Trainer's find_batch_size reads the first tensor, which must count rows, not 1.
            batch["labels"] = torch.tensor([r["labels"] for r in rows], dtype=self.label_dtype)
        batch.update({
            "input_ids": torch.tensor([[t for r in rows for t in r["input_ids"]]], dtype=torch.long),
            "position_ids": torch.tensor([[p for n in lengths for p in range(n)]], dtype=torch.long),
            **({"token_type_ids": torch.tensor([[t for r in rows for t in r["token_type_ids"]]], dtype=torch.long)}
               if "token_type_ids" in rows[0] else {}),  # BERT-style sentence pairs
            "cu_seq_lens_q": cu, "cu_seq_lens_k": cu, "max_length_q": max(lengths), "max_length_k": max(lengths),
        })
        return batch


def make_collator(packed: bool, pad_token_id: int, padding_side: str = "right", image_processor=None,
                  label_dtype=torch.long):
    """The batch collator for a model: packed rows (no pad tokens) when ``packed``, else dynamically padded rows
    (which also turn image rows into pixels)."""
    if packed:
        return PackingCollator(label_dtype)
    return Collator(pad_token_id, padding_side, label_dtype, image_processor)
