"""Checks of one row's fields that training, ``infer`` and the server share, so that they accept the same rows.

Each check raises a :class:`~swiftcls.core.errors.DataError` naming the file, row and field (the server turns it
into a 422 answer; ``--skip_bad_rows`` skips the row).
"""

from __future__ import annotations

import re

from ..core.errors import DataError

# The roles a ``messages`` row may use, in training and in ``swiftcls deploy`` alike: a chat template renders other
# roles differently or not at all, so a row the server refuses must not be trainable either.
ROLES = ("system", "user", "assistant")
# A well-formed pair is one code point in a Python str, so any code point in this range is a lone surrogate, which
# UTF-8 cannot encode and the tokenizers refuse (JSON allows it as "\ud800").
_SURROGATE = re.compile("[\ud800-\udfff]")


def check_text(text: str, field: str, where: dict) -> str:
    """``text`` if every character can be encoded as UTF-8, else a DataError naming ``field``.

    Args:
        text: A text field of the row.
        field: Its name in the error (``text``, ``text_pair``, ``messages``).
        where: ``file`` and ``row`` for the error.
    """
    found = _SURROGATE.search(text)
    if found:
        raise DataError(f"character {found.start() + 1} is a lone UTF-16 surrogate (\\u{ord(found.group()):04x}), "
                        "which is not valid Unicode text.", field=field, **where,
                        fix="fix the text where it was produced (a surrogate pair split in two, or bytes decoded "
                            "with the wrong codec), or drop the row (--skip_bad_rows).")
    return text


def check_messages(messages, where: dict) -> list[dict]:
    """SWIFT/OpenAI ``messages``: a non-empty list of ``{"role": one of ROLES, "content": str}`` with some text.

    Raises:
        DataError: naming the field ``messages`` and, for a bad role, the message's index.
    """
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages):
        raise DataError("'messages' must be a non-empty list of {\"role\": ..., \"content\": \"...\"} objects.",
                        field="messages", **where, fix="use SWIFT's format: [{\"role\": \"user\", \"content\": ...}].")
    for i, m in enumerate(messages):
        if m["role"] not in ROLES:
            raise DataError(f"message {i} has role {m['role']!r}; roles must be {', '.join(ROLES[:-1])} or "
                            f"{ROLES[-1]} (the server accepts the same).", field="messages", **where,
                            fix="rename the role, or fold that turn's text into a user message.")
        check_text(m["content"], "messages", where)
    if not any(m["content"].strip() for m in messages):
        raise DataError("all messages are empty.", field="messages", **where, fix="give the row some text.")
    return messages
