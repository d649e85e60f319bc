"""Reward-model rows (``--task rm``): one preference row becomes a chosen and a rejected conversation.

Accepted rows (column names can be mapped with ``--columns``):

* ``{"prompt": "...", "chosen": "...", "rejected": "..."}``: the prompt is one user turn;
* ``{"messages": [prompt turns], "chosen": ..., "rejected": ...}``: the prompt is the given turns;
* SWIFT's ``{"messages": [..., {"role": "assistant", "content": chosen}], "rejected_response": "..."}``.

``chosen``/``rejected`` are strings (one assistant turn) or lists of turns (TRL's conversational format). An
optional numeric ``margin`` column asks the chosen reward to exceed the rejected one by that much (Llama 2's
margin loss, TRL's ``margin`` column). Both conversations are then encoded exactly as SWIFT ``messages`` rows.
"""

from __future__ import annotations

import math

from ..core.errors import DataError
from .checks import check_messages
from .dataset import Example, check_size, mapped_fields
from .readers import ReadOptions, Record

CHOSEN, REJECTED = 1.0, 0.0  # an rm row's label: which side of its pair it is


def _turns(value, name: str, where: dict) -> list[dict]:
    """A completion as assistant turns: a string is one turn, a list must be SWIFT/OpenAI turns."""
    if isinstance(value, str):
        if not value.strip():
            raise DataError(f"'{name}' is empty.", field=name, **where, fix="fill it in or drop the row.")
        return check_messages([{"role": "assistant", "content": value}], {**where})
    if isinstance(value, list):
        try:
            return check_messages(value, where)
        except DataError as err:
            raise DataError(err.reason, field=name, **where, fix=err.fix) from None
    if value is None:
        raise DataError(f"missing '{name}'.", field=name, **where,
                        fix="give every row 'chosen' and 'rejected' responses (or map your columns with --columns), "
                            "or pass --skip_bad_rows.")
    raise DataError(f"'{name}' must be a string or a list of turns, got {type(value).__name__}.", field=name,
                    **where, fix="write the response as a string.")


def _prompt(fields: dict, where: dict) -> list[dict]:
    if "messages" in fields:
        return check_messages(fields["messages"], where)
    prompt = fields.get("prompt")
    if isinstance(prompt, list):
        try:
            return check_messages(prompt, where)
        except DataError as err:
            raise DataError(err.reason, field="prompt", **where, fix=err.fix) from None
    if not isinstance(prompt, str) or not prompt.strip():
        found = sorted(fields)[:12]
        raise DataError(f"no prompt: a reward-model row needs 'prompt' (or 'messages'); columns found: {found}.",
                        field="prompt", **where,
                        fix="name the prompt column 'prompt' or map it: --columns '{\"question\": \"prompt\"}'.")
    return [{"role": "user", "content": prompt}]


def _margin(value, where: dict) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0.0
    try:
        margin = float(value)
    except (TypeError, ValueError):
        margin = math.nan
    if isinstance(value, bool) or not math.isfinite(margin):
        raise DataError(f"margin {value!r} is not a finite number.", field="margin", **where,
                        fix="write the margin as a number (0 for none), or drop the column.")
    return margin


def preference_pair(record: Record, columns: dict[str, str], options: ReadOptions | None = None) -> list[Example]:
    """The chosen and the rejected conversation of one preference row (chosen first; group ids come later).

    Raises:
        DataError: naming file, row and field (a missing side, a bad prompt or margin, an over-long row).
    """
    options = options or ReadOptions()
    where = {"file": record.file, "row": record.row}
    fields = mapped_fields(record, columns)
    if "rejected_response" in fields and "chosen" not in fields:  # SWIFT: messages end with the chosen answer
        messages = check_messages(fields.get("messages"), where)
        if messages[-1]["role"] != "assistant" or len(messages) < 2:
            raise DataError("SWIFT's rm format needs 'messages' ending with the chosen assistant turn.",
                            field="messages", **where,
                            fix="end 'messages' with {\"role\": \"assistant\", \"content\": <chosen answer>}, or "
                                "use 'prompt' + 'chosen' + 'rejected'.")
        prompt, chosen = messages[:-1], messages[-1:]
        rejected = _turns(fields["rejected_response"], "rejected_response", where)
    else:
        prompt = _prompt(fields, where)
        chosen = _turns(fields.get("chosen"), "chosen", where)
        rejected = _turns(fields.get("rejected"), "rejected", where)
    margin = _margin(fields.get("margin"), where)
    check_size(None, None, prompt + chosen + rejected, where, options.max_row_chars)
    return [Example(None, messages=prompt + side, label=("float", value), file=record.file, row=record.row,
                    raw=dict(record.fields), margin=margin)
            for side, value in ((chosen, CHOSEN), (rejected, REJECTED))]
