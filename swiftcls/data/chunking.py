"""Long rows as overlapping windows (``--long_text chunk``): each window a complete model input.

A row that fits ``--max_length`` is encoded exactly as with ``--long_text truncate``. A longer row becomes
``{"windows": [window, ...], "pooling": "mean"|"max"}``, each window a row of its own (``input_ids``, and
``token_type_ids`` for encoders) with the model's framing repeated:

* encoders: ``[CLS] window [SEP]``; for text pairs ``[CLS] text [SEP] window-of-text_pair [SEP]`` (the second text
  is chunked, the first repeated in every window and cut to half the room if it is longer), built by the
  tokenizer's own overflow (``return_overflowing_tokens`` with ``stride``);
* decoders: the chat template (system prompt, user turn, generation prompt) around each window of the text; for
  pairs the user turn is ``text\\n<window of text_pair>``. Without a chat template, the tokenizer's leading special
  tokens (BOS) start every window.

Consecutive windows share ``--chunk_stride`` tokens. Windows are ordered from the side ``--truncation_side``
keeps (the start for ``right``), and a row keeps at most ``--max_chunks`` windows: the rest of an absurdly long row
is cut, as truncation would, with a warning, so memory per row stays bounded. The collator
(:mod:`swiftcls.data.collators`) turns a batch's windows into model rows plus the index of the row each window
belongs to; the model layer (:mod:`swiftcls.models.aggregate`) pools their logits back to one row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..core.errors import ConfigError

logger = logging.getLogger(__name__)

WINDOWS, POOLING = "windows", "pooling"
POOLINGS = ("mean", "max")
# Stands for the chunked text while a chat template is rendered: a private-use character no template emits.
MARKER = "\ue000"


@dataclass(frozen=True)
class ChunkConfig:
    """How long rows are chunked.

    Attributes:
        stride: Tokens consecutive windows share.
        pooling: ``mean`` or ``max`` of the windows' logits.
        max_chunks: The most windows one row keeps.
    """

    stride: int = 32
    pooling: str = "mean"
    max_chunks: int = 32

    def check(self, room: int) -> None:
        """Raise ConfigError unless the stride leaves every window new text (``room``: text tokens per window)."""
        if self.pooling not in POOLINGS:
            raise ConfigError(f"--chunk_pooling must be one of {POOLINGS}, got {self.pooling!r}.")
        if self.max_chunks < 1:
            raise ConfigError(f"--max_chunks must be at least 1, got {self.max_chunks}.")
        if not 0 <= self.stride < room // 2:
            raise ConfigError(f"--chunk_stride {self.stride}: windows hold {room} text tokens here (--max_length "
                              f"minus special tokens / chat template), so the overlap must be between 0 and "
                              f"{max(room // 2 - 1, 0)}; lower --chunk_stride or raise --max_length.")


def window_starts(n: int, size: int, stride: int) -> list[int]:
    """Start offsets of windows of ``size`` tokens over ``n`` tokens, consecutive windows sharing ``stride``."""
    if size <= stride:  # a window with no new text would never reach the end
        raise ConfigError(f"windows here hold {size} text tokens (--max_length minus the prompt around the text), "
                          f"no more than --chunk_stride {stride}; lower --chunk_stride or raise --max_length.")
    starts = [0]
    while starts[-1] + size < n:
        starts.append(starts[-1] + size - stride)
    return starts


def as_windows(row: dict) -> list[dict]:
    """The model rows of an encoded row: its windows, or the row itself when it was not chunked."""
    return row[WINDOWS] if WINDOWS in row else [row]


def row_tokens(row: dict) -> int:
    """Tokens the model computes for a row (every window of a chunked one)."""
    return sum(len(w["input_ids"]) for w in as_windows(row))


def windowed(windows: list[dict], config: ChunkConfig) -> dict:
    """One encoded row from its windows: the window itself when there is one (a short row stays unchanged)."""
    return windows[0] if len(windows) == 1 else {WINDOWS: windows, POOLING: config.pooling}


def encoder_windows(tokenizer, texts: list[str], pairs: list[str] | None, max_length: int,
                    stride: int) -> list[list[dict]]:
    """Windows of each row for an encoder, with the tokenizer's special tokens and token types in each.

    With pairs, the first text of a row is cut to half the room when longer (character offsets of its tokens, so
    the cut is exact), and the second text is chunked (``truncation="only_second"``).
    """
    if pairs is not None:
        half = (max_length - tokenizer.num_special_tokens_to_add(pair=True)) // 2
        spans = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        texts = [t if len(s) <= half else t[:s[half - 1][1]] for t, s in zip(texts, spans)]
    out = tokenizer(texts, pairs, truncation="only_second" if pairs is not None else True, max_length=max_length,
                    stride=stride, return_overflowing_tokens=True)
    keys = [k for k in ("input_ids", "token_type_ids") if k in out]
    rows = [[] for _ in texts]
    for i, owner in enumerate(out["overflow_to_sample_mapping"]):
        rows[owner].append({k: out[k][i] for k in keys})
    return rows


def wrapped_windows(tokenizer, prompt: str, body: list[int], max_length: int, stride: int, side: str,
                    leading_specials: bool) -> list[dict]:
    """Windows of ``body`` (token ids) each wrapped in ``prompt``'s text around :data:`MARKER`.

    Args:
        tokenizer: The decoder's tokenizer.
        prompt: The row's prompt (chat template or plain text) with :data:`MARKER` where the chunked text goes.
        body: Token ids of the chunked text.
        max_length: Tokens per window.
        stride: Tokens consecutive windows share.
        side: ``right`` orders windows from the text's start, ``left`` from its end.
        leading_specials: Whether the tokenizer's own special tokens (BOS) start the prefix (no chat template).
    """
    before, after = prompt.split(MARKER)
    prefix = tokenizer(before, add_special_tokens=leading_specials)["input_ids"]
    suffix = tokenizer(after, add_special_tokens=False)["input_ids"] if after else []
    room = max_length - len(prefix) - len(suffix)
    starts = window_starts(len(body), room, stride)
    if side == "left":  # the same windows mirrored: the last one ends where the text ends
        starts = [max(len(body) - room - s, 0) for s in starts]
    return [{"input_ids": prefix + body[s:s + room] + suffix} for s in starts]


def cap_windows(rows: list[list[dict]], config: ChunkConfig, where: list[dict]) -> list[list[dict]]:
    """Each row's windows cut to ``max_chunks``, with one warning naming the first row that lost text."""
    long = [i for i, r in enumerate(rows) if len(r) > config.max_chunks]
    if long:
        first = where[long[0]]
        logger.warning("%d row(s) need more than --max_chunks %d windows (first: %s, row %s, %d windows); they keep "
                       "their first %d windows and the rest of their text is cut, as --long_text truncate would. "
                       "Raise --max_chunks to score all of it.", len(long), config.max_chunks, first["file"],
                       first["row"], len(rows[long[0]]), config.max_chunks)
    return [r[:config.max_chunks] for r in rows]
