"""Helpers of ``--prompt`` rows (see :class:`~swiftcls.data.encode.PromptEncoder`): which rows a prompt cannot format,
and cutting a row's text by a number of tokens so the instruction around it survives."""

from __future__ import annotations

from ..core.errors import DataError
from .dataset import Example


def prompt_rejects(prompt: str | None, examples: list[Example]) -> DataError | None:
    """The error for the first SWIFT ``messages`` row when a ``--prompt`` is set (None when there is none).

    A prompt wraps one text; a conversation already says what it asks, and wrapping its turns would silently change
    what the model reads, so such rows are refused rather than passed through unformatted.
    """
    if prompt is None:
        return None
    row = next((ex for ex in examples if ex.messages is not None), None)
    if row is None:
        return None
    return DataError("a 'messages' row with --prompt: the prompt template formats plain text rows only.",
                     field="messages", **row.where,
                     fix="put the instruction into the messages (a system turn) and drop --prompt, or give the row "
                         "a 'text' field.")


def cut_tokens(tokenizer, text: str, count: int, side: str) -> str:
    """``text`` less ``count`` tokens on ``side`` (``right`` keeps its start), decoded back to a string."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    count = min(max(count, 1), len(ids))
    return tokenizer.decode(ids[count:] if side == "left" else ids[:len(ids) - count])
