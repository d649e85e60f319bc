"""``--prompt`` templates: an instruction around each row's text, listing the label names.

Only the two placeholders ``{labels}`` and ``{text}`` are replaced; every other brace stays as written, so a prompt
may show JSON or code. ``{labels}`` is filled once per run (the names in id order, comma-separated), ``{text}`` per
row, last, so braces inside a row's text are never read as placeholders. Plain string functions, shared by the
encoder (swiftcls/data), the model card (swiftcls/models) and the commands.
"""

from __future__ import annotations

from .errors import ConfigError

LABELS, TEXT = "{labels}", "{text}"

# ``--system default``: keep the chat template's own default system prompt (SmolLM2's "You are a helpful AI assistant
# named SmolLM...", Qwen2.5's "You are Qwen..."), which swiftcls otherwise leaves out (docs/data.md, lean prompts).
SYSTEM_DEFAULT = "default"

# What --head_init label_names and --zero_shot use when no --prompt is given: the labels are listed, and the model is
# asked for a label name only, so its first answer token is one of the names' first tokens.
DEFAULT_PROMPT = ("Classify the text into one of these labels: {labels}.\n\nText: {text}\n\n"
                  "Answer with the label only.")


def check_prompt(template: str | None, flag: str = "--prompt") -> None:
    """Raise :class:`ConfigError` unless ``template`` (when given) holds ``{text}`` exactly once.

    Args:
        template: The ``--prompt`` value, or None.
        flag: The flag named in the message.
    """
    if template is None:
        return
    count = template.count(TEXT)
    if count != 1:
        raise ConfigError(f"{flag} {template!r:.120} holds {TEXT} {count} times; it needs it exactly once, where each "
                          f"row's text goes, e.g. {flag} \"Label the review as {LABELS}.\\n\\nReview: {TEXT}\".")


def fill_labels(template: str | None, names: list[str]) -> str | None:
    """``template`` with ``{labels}`` replaced by ``names`` joined with ``", "`` (None stays None)."""
    if template is None or LABELS not in template:
        return template
    return template.replace(LABELS, ", ".join(names))


def fill_text(template: str, text: str) -> str:
    """``template`` (labels already filled) with ``text`` at its single ``{text}``."""
    before, _, after = template.partition(TEXT)
    return before + text + after
