"""Chat prompts by string splicing: the chat template rendered once around a sentinel, then every one-turn prompt built
as ``prefix + text + suffix`` instead of one Jinja render per row (the main cost of tokenizing a large file).

A splice is used only where it provably gives the string the template would render, so token ids never change:

- it is built only when rendering probe texts (empty, leading/trailing spaces and newlines, tabs, braces, quotes,
  backslashes, unicode, a very long text, and the characters the template strips at a text's ends) gives exactly
  ``prefix + probe + suffix`` for every probe; any difference (a template that trims, escapes or edits the text)
  means no splice, and every prompt is rendered by the template as before;
- a row whose text contains a string the template tests for (``'<tool_response>' in content``, ``.startswith``,
  ``.split`` ... arguments) or equals one it compares against (``== 'user'``) is rendered by the template, since the
  template may branch on it; only the message shape verified here (the fixed system turn, then one user turn with
  string content) is spliced.

Nothing here knows a model family: the template's own source decides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

SENTINEL = "\u27e6swiftcls-splice-5b1e\u27e7"
_STRIP = frozenset({"strip", "lstrip", "rstrip", "trim"})
PROBES = ("", "a", " leading space", "trailing space ", "  both  ", "\nnewline first", "newline last\n",
          "in\n\nside\r\n", "\ttab\t", "{{ braces }} {% raw %} {# #} }}{{", "'single' \"double\" \\ backslash",
          "<b>&amp;</b> < > &", "unicode: 你好，世界 café naïve 😀 \u200b\u00a0", "x" * 20000)


@dataclass(frozen=True)
class Splice:
    """``prefix + text + suffix`` equals the template's prompt for a user turn ``text`` (after ``system``, if any),
    except for texts that contain one of ``contains`` or equal one of ``equals`` (see :meth:`prompt`)."""

    prefix: str
    suffix: str
    system: str | None
    contains: tuple[str, ...]
    equals: frozenset[str]

    def prompt(self, messages: list[dict]) -> str | None:
        """The spliced prompt of ``messages``, or None when they are not the verified shape or the text is one the
        template may branch on (the caller renders those with the template)."""
        text = self.text(messages)
        return None if text is None else self.prefix + text + self.suffix

    def text(self, messages: list[dict]) -> str | None:
        """The user text that goes between :attr:`prefix` and :attr:`suffix`, or None as in :meth:`prompt`."""
        if self.system is None:
            if len(messages) != 1:
                return None
        elif len(messages) != 2 or messages[0] != {"role": "system", "content": self.system}:
            return None
        turn = messages[-1]
        text = turn.get("content")
        if turn.get("role") != "user" or len(turn) != 2 or not isinstance(text, str):
            return None
        if text in self.equals or any(s in text for s in self.contains):
            return None
        return text


def template_literals(source: str) -> tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]:
    """Strings a Jinja template may branch on: arguments of method calls and filters and operands of ``in`` (a
    text containing one may render differently), operands of ``==``/``!=`` (a text equal to one may), and the
    character sets of ``strip``-like calls (probed at both ends of a text instead).

    Raises:
        jinja2.TemplateSyntaxError: ``source`` is not a valid template.
    """
    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    tree = ImmutableSandboxedEnvironment().parse(source)
    contains, equals, strips = set(), set(), set()

    def consts(items):
        return {n.value for n in items if isinstance(n, nodes.Const) and isinstance(n.value, str)}

    for call in tree.find_all(nodes.Call):
        method = call.node.attr if isinstance(call.node, nodes.Getattr) else None
        (strips if method in _STRIP else contains).update(consts(call.args))
    for filt in tree.find_all(nodes.Filter):
        (strips if filt.name in _STRIP else contains).update(consts(filt.args))
    for compare in tree.find_all(nodes.Compare):
        for op in compare.ops:
            (contains if op.op in ("in", "notin") else equals).update(consts([compare.expr, op.expr]))
    return tuple(sorted(s for s in contains if s)), frozenset(equals), tuple(sorted(strips))


def build_splice(render: Callable[[list[dict]], str], source: object, system: str | None) -> Splice | None:
    """The splice of a template, or None when it cannot be proven equal to rendering.

    Args:
        render: ``messages -> prompt`` with the template (generation prompt and template arguments included).
        source: The template's Jinja source (``tokenizer.chat_template``); anything but a string (none, or a dict
            of named templates) gives no splice.
        system: The system turn every prompt starts with, or None for none.
    """
    if not isinstance(source, str):
        return None
    try:
        contains, equals, strips = template_literals(source)
    except Exception as err:  # noqa: BLE001 - whatever the parser rejects, rendering decides, row by row
        logger.debug("no prompt splice: the chat template does not parse (%s)", err)
        return None

    def messages(text):
        head = [] if system is None else [{"role": "system", "content": system}]
        return [*head, {"role": "user", "content": text}]

    try:
        whole = render(messages(SENTINEL))
        if whole.count(SENTINEL) != 1:
            return None
        prefix, suffix = whole.split(SENTINEL)
        probes = PROBES + tuple(f"{s}x{s}" for s in strips) + tuple(f"{s} x" for s in equals if s)
        for probe in probes:
            if probe in equals or any(s in probe for s in contains):
                continue
            if render(messages(probe)) != prefix + probe + suffix:
                logger.debug("no prompt splice: the chat template changes the text %r", probe[:40])
                return None
    except Exception as err:  # noqa: BLE001 - a template that fails on a probe is rendered as before
        logger.debug("no prompt splice: rendering a probe failed (%s)", err)
        return None
    return Splice(prefix, suffix, system, contains, equals)
