"""Cutting an over-long chat prompt inside its messages, so the turns' roles and the template's end survive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_TRIES = 3  # re-tokenizing text cut mid-word can shift a token or two at the cut
# Slack on "a token covers at most as many characters as the longest vocabulary entry": normalizers may drop
# characters (accents, control characters) before the vocabulary sees the text.
_SLACK = 2


def char_budget(tokenizer, max_length: int) -> int:
    """How many characters of one text can reach ``max_length`` tokens at most: ``max_length`` times the longest
    vocabulary entry (a token never covers more characters than its own string; byte-level entries are one
    character per byte), with slack. Cutting a text to this many characters before tokenizing it therefore keeps
    every token that truncation to ``max_length`` would keep, and bounds the work and memory per row."""
    vocab = getattr(tokenizer, "tokenizer", tokenizer).get_vocab()  # a processor wraps its tokenizer
    return _SLACK * (max_length + 1) * max(map(len, vocab), default=1)


def clip(text: str, budget: int, side: str) -> str:
    """The ``budget`` characters of ``text`` that truncation on ``side`` would keep (its start for ``right``)."""
    if len(text) <= budget:
        return text
    return text[len(text) - budget:] if side == "left" else text[:budget]


def cut_order(messages: list[dict], side: str) -> list[int]:
    """Indices of ``messages`` in the order their text is cut.

    ``right`` cuts from the end of the conversation backwards (last turn first). ``left`` cuts from the start,
    earliest turns first, but moves a leading system message to the very end: SWIFT users expect the system
    prompt to survive.
    """
    if side != "left":
        return list(reversed(range(len(messages))))
    first = 1 if messages[0]["role"] == "system" else 0
    return list(range(first, len(messages))) + list(range(first))


def _trim(ids: list[int], n: int, side: str) -> list[int]:
    return ids[n:] if side == "left" else ids[:len(ids) - n]


@dataclass
class ChatTruncator:
    """Fits a chat prompt into ``max_length`` tokens by cutting text inside the messages.

    The template's fixed tokens (role markers, turn ends, generation prompt) are counted once per row by rendering
    the turns with empty contents; then exactly the excess text tokens are cut in :func:`cut_order`. A turn whose
    text is cut away entirely is dropped (its empty markers would only cost budget), except the final turn, so the
    prompt still ends with the same role's turn and the generation prompt, and a system message, which is emptied
    at worst (dropping it would let templates such as Qwen2.5's insert their default system prompt).

    Args:
        tokenizer: A Hugging Face tokenizer.
        render: ``messages -> prompt string`` with the chat template and generation prompt.
        max_length: The token budget.
        side: ``right`` (keep the start of the conversation) or ``left`` (keep its end and the system message).
    """

    tokenizer: object
    render: Callable[[list[dict]], str]
    max_length: int
    side: str = "right"

    def _tokens(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def _fixed(self, messages: list[dict]) -> list[int]:
        """Ids of the template alone: ``messages`` rendered with every content empty."""
        return self._tokens([self.render([{**m, "content": ""} for m in messages])])[0]

    def _removable(self, messages: list[dict], i: int) -> bool:
        return i != len(messages) - 1 and messages[i]["role"] != "system"

    def _kept_turns(self, messages: list[dict], contents: list[list[int]], fixed: int) -> list[int]:
        """Indices of the turns that keep some text; the others' markers are dropped to free their tokens."""
        excess = fixed + sum(map(len, contents)) - self.max_length
        removable = [i for i in range(len(messages)) if self._removable(messages, i)]
        per_turn, dropped = None, set()
        for i in cut_order(messages, self.side):
            if excess <= 0 or len(contents[i]) > excess:
                break
            excess -= len(contents[i])
            if i in removable:
                if per_turn is None:  # template tokens per turn, averaged; the exact count is re-rendered later
                    bare = self._fixed([m for j, m in enumerate(messages) if j not in removable])
                    per_turn = (fixed - len(bare)) / len(removable)
                dropped.add(i)
                excess -= per_turn
        return [i for i in range(len(messages)) if i not in dropped]

    def _cut(self, contents: list[list[int]], order: list[int], excess: int) -> list[list[int]]:
        contents = list(contents)
        for i in order:
            if excess <= 0:
                break
            n = min(excess, len(contents[i]))
            contents[i] = _trim(contents[i], n, self.side)
            excess -= n
        return contents

    def _keep_tail(self, ids: list[int], fixed: list[int]) -> list[int]:
        """Last resort: a hard cut that keeps the template's tail (the tokens ``ids`` ends with, like the bare
        template: last turn end and generation prompt)."""
        if self.side == "left":
            return ids[-self.max_length:]
        tail = 0
        while tail < min(len(ids), len(fixed), self.max_length) and ids[-1 - tail] == fixed[-1 - tail]:
            tail += 1
        return ids[:self.max_length - tail] + ids[len(ids) - tail:]

    def __call__(self, messages: list[dict]) -> list[int]:
        """Token ids of ``messages`` rendered and cut to at most ``max_length``, ending with the generation
        prompt."""
        contents = self._tokens([m["content"] for m in messages])
        fixed = self._fixed(messages)
        kept = self._kept_turns(messages, contents, len(fixed))
        if len(kept) < len(messages):
            messages, contents = [messages[i] for i in kept], [contents[i] for i in kept]
            fixed = self._fixed(messages)
        order, full = cut_order(messages, self.side), contents
        excess = len(fixed) + sum(map(len, contents)) - self.max_length
        for _ in range(_TRIES):
            contents = self._cut(contents, order, excess)
            cut = [{**m, "content": m["content"] if c is f else self.tokenizer.decode(c)}
                   for m, c, f in zip(messages, contents, full)]
            ids = self._tokens([self.render(cut)])[0]
            excess = len(ids) - self.max_length
            if excess <= 0:
                return ids
        return self._keep_tail(ids, fixed)
