"""Spliced chat prompts at the token level: the template's constant ends tokenized once, only the text between them
tokenized per row.

A fast (Rust) tokenizer splits its input at added tokens that are matched on the raw text (``normalized=False``)
before it normalizes, pre-tokenizes or merges anything, and tokenizes each piece on its own. So when the spliced
prompt's prefix ends with such a token and its suffix starts with one, the ids of ``prefix + text + suffix`` are
``ids(prefix) + ids(lead + text + trail) + ids(rest of suffix)``, where ``lead``/``trail`` are the bits of prefix and
suffix past the last/before the first of those tokens (``"user\\n"`` and ``""`` for ChatML). The template's system
turn and generation prompt (10-40 tokens a row) are then no longer tokenized on every row of a million-row file.

This is used only where it is exact, checked when it is built:

- the boundary tokens strip no whitespace and are not single-word (either makes their match depend on the text);
- no added token could match across a boundary (a token that begins inside the prefix and ends in the text, or
  begins in the text and ends inside the suffix);
- the probe texts of :mod:`swiftcls.data.splice`, and probes holding added tokens, tokenize to the same ids both ways;
- a tokenizer set to ``split_special_tokens`` or a slow (Python) tokenizer gets none.

The pieces go straight to the Rust tokenizer (:func:`piece_ids`), so the probes also show that the tokenizer class
adds nothing of its own around that call.
"""

from __future__ import annotations

from dataclasses import dataclass

from .splice import PROBES, Splice


@dataclass(frozen=True)
class TokenSplice:
    """``head + ids(lead + text + trail) + tail`` are the ids of the spliced prompt of ``text``."""

    head: tuple[int, ...]
    lead: str
    trail: str
    tail: tuple[int, ...]

    def piece(self, text: str) -> str:
        """The string to tokenize for ``text``."""
        return self.lead + text + self.trail

    def ids(self, piece_ids: list[int]) -> list[int]:
        """The prompt's ids from the ids of :meth:`piece`."""
        return [*self.head, *piece_ids, *self.tail]

    def encode(self, tokenizer, texts: list[str]) -> list[list[int]]:
        """The prompts' ids of ``texts``."""
        return [self.ids(row) for row in piece_ids(tokenizer, [self.piece(t) for t in texts])]


def piece_ids(tokenizer, pieces: list[str]) -> list[list[int]]:
    """``tokenizer(pieces, add_special_tokens=False)["input_ids"]`` straight from the Rust tokenizer.

    The same backend call transformers makes, with the backend set as transformers sets it for that call (no
    truncation, no padding, special tokens split out), minus the per-row ``BatchEncoding`` transformers builds
    (about a tenth of tokenizing a short row). Used only for tokenizers whose probes give the same ids both ways
    (:func:`build_token_splice`).
    """
    backend = tokenizer.backend_tokenizer
    if backend.truncation is not None:  # left by an earlier call with truncation: transformers resets it too
        backend.no_truncation()
    if backend.padding is not None:
        backend.no_padding()
    if backend.encode_special_tokens:
        backend.encode_special_tokens = False
    return [encoding.ids for encoding in backend.encode_batch(pieces, add_special_tokens=False)]


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False, return_attention_mask=False)["input_ids"]


def _cut_points(prefix: str, suffix: str, tokens: dict[str, object]) -> tuple[int, int, object, object]:
    """Where the prefix's last and the suffix's first raw-matched added token end/start, and those tokens."""
    head_end, head_tok, tail_start, tail_tok = 0, None, len(suffix), None
    for content, tok in tokens.items():
        at = prefix.rfind(content)
        if at >= 0 and (at + len(content) > head_end
                        or (at + len(content) == head_end and len(content) > len(head_tok.content))):
            head_end, head_tok = at + len(content), tok
        at = suffix.find(content)
        if at >= 0 and (at < tail_start or (at == tail_start and len(content) > len(tail_tok.content))):
            tail_start, tail_tok = at, tok
    return head_end, tail_start, head_tok, tail_tok


def _may_span(head: str, tail: str, contents: list[str]) -> bool:
    """Whether an added token could begin in ``head`` and end past it, or begin before ``tail`` and end in it."""
    return any(head.endswith(c[:k]) or tail.startswith(c[k:]) for c in contents for k in range(1, len(c)))


def build_token_splice(tokenizer, splice: Splice | None) -> TokenSplice | None:
    """The token splice of ``splice`` for ``tokenizer``, or None where it cannot be shown exact (see module doc)."""
    if (splice is None or not getattr(tokenizer, "is_fast", False) or getattr(tokenizer, "split_special_tokens", False)
            or getattr(tokenizer, "backend_tokenizer", None) is None):
        return None
    added = list(getattr(tokenizer, "added_tokens_decoder", {}).values())
    raw = {t.content: t for t in added if not t.normalized and t.content}
    head_end, tail_start, head_tok, tail_tok = _cut_points(splice.prefix, splice.suffix, raw)
    if head_tok is None and tail_tok is None:
        return None
    if (head_tok is not None and (head_tok.rstrip or head_tok.single_word)) or (
            tail_tok is not None and (tail_tok.lstrip or tail_tok.single_word)):
        return None
    head, tail = splice.prefix[:head_end], splice.suffix[tail_start:]
    if _may_span(head, tail, [t.content for t in added]):
        return None
    found = TokenSplice(tuple(_ids(tokenizer, head)) if head else (), splice.prefix[head_end:],
                        splice.suffix[:tail_start], tuple(_ids(tokenizer, tail)) if tail else ())
    specials = list(dict.fromkeys([t.content for t in (head_tok, tail_tok) if t is not None] + list(raw)[:8]))
    # the splice's long probe is left out: length changes nothing at a boundary, and rows are tokenized after their
    # cut to the character budget (a 20k-character probe would be the longest string this tokenizer ever sees)
    probes = (*(p for p in PROBES if len(p) <= 1000), *(f"x {s} y{s}" for s in specials), *(f"{s}x" for s in specials))
    if found.encode(tokenizer, list(probes)) != [_ids(tokenizer, splice.prefix + p + splice.suffix) for p in probes]:
        return None
    return found
