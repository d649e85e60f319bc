"""``--lazy_tokenize``: validated, label-encoded rows kept unencoded; each is tokenized when the trainer asks for it.

A large image+text set then starts training at once instead of opening every image first (to count its tokens);
images are still decoded once per batch, by the collator. The rows are the same as the eager path's: the same
encoder turns the same examples into the same ids (:class:`~swiftcls.data.encode.PromptEncoder`).
"""

from __future__ import annotations

from collections.abc import Callable

from torch.utils.data import Dataset

from ..core.errors import ConfigError, DataError
from .dataset import Example
from .prompt import prompt_rejects
from .streaming import SkipLog


def check_lazy(examples: list[Example], prompt: str | None, image_processor, family: str) -> None:
    """What the eager encoder refuses for the whole set, refused up front: image rows for a text-only family,
    ``messages`` rows with ``--prompt``."""
    with_images = next((ex for ex in examples if ex.images), None)
    if with_images is not None and image_processor is None:
        raise ConfigError(f"{with_images.file}, row {with_images.row}: the data has images but model family "
                          f"'{family}' is text-only; use an image+text model (e.g. Qwen2-VL) or drop the 'images' "
                          "field (--columns '{\"images\": \"ignore\"}').")
    rejected = prompt_rejects(prompt, examples)
    if rejected is not None:
        raise rejected


class LazyRows(Dataset):
    """Examples with their encoded labels; ``rows[i]`` is the encoded row (``None`` for a row the encoder rejects
    with ``--skip_bad_rows``: :class:`SkippingCollator` leaves it out of its batch).

    Args:
        examples: Validated examples.
        labels: Their encoded labels.
        encode: ``PromptEncoder.encode_kept``.
        skip_bad_rows: Whether a row the encoder rejects (a missing or broken image, images over ``--max_length``)
            is skipped, written to ``skipped_path`` when met, instead of raising.
        skipped_path: ``skipped_rows.jsonl`` (None on ranks other than 0).
    """

    def __init__(self, examples: list[Example], labels: list, encode: Callable, skip_bad_rows: bool = False,
                 skipped_path: str | None = None):
        self.examples, self.labels, self.encode = examples, labels, encode
        self.skip_bad_rows, self.skipped_path = skip_bad_rows, skipped_path
        self._logged: set[int] = set()  # a bad row is met again every epoch; written once per process

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict | None:
        sink = SkipLog(None if i in self._logged else self.skipped_path) if self.skip_bad_rows else None
        _, rows = self.encode([self.examples[i]], "", sink)
        if not rows:
            self._logged.add(i)
            return None
        return {**rows[0], "labels": self.labels[i]}


class SkippingCollator:
    """Wraps a collator: leaves out the rows :class:`LazyRows` skipped; a batch of only skipped rows is an error
    (the trainer cannot take an empty batch)."""

    def __init__(self, inner: Callable):
        self.inner = inner

    def __call__(self, rows: list[dict | None]) -> dict:
        kept = [r for r in rows if r is not None]
        if not kept:
            raise DataError(f"every row of a batch of {len(rows)} was skipped (see skipped_rows.jsonl).",
                            fix="fix the listed rows, or pass --lazy_tokenize false to drop them before training.")
        return self.inner(kept)
