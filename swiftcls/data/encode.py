"""Prompt formatting and tokenization: rows in, token ids out, as the model family expects."""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, replace

from jinja2 import TemplateError
from tqdm.auto import tqdm

from ..core.errors import ConfigError, DataError
from ..core.prompt_template import SYSTEM_DEFAULT, check_prompt, fill_text
from ..core.spec import ModelSpec
from . import chunking, images
from .chunking import ChunkConfig
from .dataset import Example
from .prompt import cut_tokens, prompt_rejects
from .splice import build_splice
from .token_splice import build_token_splice
from .truncate import ChatTruncator, char_budget, clip, cut_order

logger = logging.getLogger(__name__)
_CHUNK = 1024


@dataclass
class PromptEncoder:
    """Turns examples into token ids the way the model family expects.

    Decoders: the text (and pair, joined by a newline) becomes one user turn of the chat template with
    the generation prompt appended, so the pooled last token is where the model would start answering;
    SWIFT ``messages`` rows keep all their turns. The system turn is ``system`` when given; without it the
    prompt is lean: a template that would insert its own default system prompt (SmolLM2, Qwen2.5) gets an empty
    system turn instead, as that text is the same tokens on every row (``system="default"`` keeps it). Over-long
    chat prompts are cut inside the messages, never in the template's end
    (:class:`~swiftcls.data.truncate.ChatTruncator`). One-turn prompts are spliced into the template rendered once
    where that provably gives the template's string (swiftcls/data/splice.py), else rendered row by row; the token
    ids are the same either way. Without a template the raw text is used.
    Encoders: ``tokenizer(text, text_pair)``. Before any of this, each text longer than
    :func:`~swiftcls.data.truncate.char_budget` characters is cut to it on the truncation side, so a huge row costs
    no more than one that just fills ``max_length`` (the tokens kept are the same).

    Multimodal specs: rows with images get the same prompt with vision placeholders at their ``<image>`` tags,
    each expanded to the image's token count (see swiftcls/data/images.py); the row keeps the image paths and the
    collator turns them into pixels per batch. Text-only rows are encoded exactly as on the text path.
    """

    tokenizer: object
    spec: ModelSpec
    max_length: int = 512
    use_chat_template: bool | None = None
    system: str | None = None
    truncation_side: str = "right"
    min_pixels: int | None = None
    max_pixels: int | None = None
    long_text: str | None = "truncate"  # None: truncate (a checkpoint from before --long_text)
    chunk: ChunkConfig = ChunkConfig()
    prompt: str | None = None

    def __post_init__(self):
        check_prompt(self.prompt)
        if self.prompt is not None and self.spec.kind != "decoder":
            raise ConfigError(f"--prompt formats prompts for decoder LLMs; model family '{self.spec.name}' is an "
                              "encoder, which reads the text as is. Drop --prompt.")
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        wanted = self.spec.use_chat_template if self.use_chat_template is None else self.use_chat_template
        self.chat = bool(wanted and has_template and self.spec.kind == "decoder")
        self.tokenizer.truncation_side = self.truncation_side
        self.image_processor = getattr(self.tokenizer, "image_processor", None) if self.spec.multimodal else None
        if self.image_processor is not None:
            images.set_pixel_budget(self.image_processor, self.min_pixels, self.max_pixels)
        self._budget = None  # char_budget, computed the first time a long text needs it
        self.system_turn = self._system_turn()
        # One-turn prompts spliced into the template rendered once, where that provably equals rendering each
        self._splice = build_splice(self._jinja, getattr(self.tokenizer, "chat_template", None),
                                    self.system_turn) if self.chat else None
        self._token_splice = build_token_splice(self.tokenizer, self._splice)
        self._overhead_logged = False
        self._overhead = overhead = self.overhead()
        if self.max_length <= overhead:
            logger.warning("--max_length %d leaves no room for text: the %s alone take(s) %d tokens, so rows are "
                           "cut to (almost) nothing. Raise --max_length.", self.max_length,
                           "chat template" if self.chat else "special tokens", overhead)
        self.long_text = self.long_text or "truncate"
        if self.long_text not in ("truncate", "chunk"):
            raise ConfigError(f"--long_text must be truncate or chunk, got {self.long_text!r}.")
        self.chunked = self.long_text == "chunk"
        if self.chunked:
            self.chunk.check(self.max_length - overhead)

    def _system_turn(self) -> str | None:
        """The system turn every chat prompt starts with, or None for none (the template decides).

        ``system`` text: that text. ``"default"``: none, so the template adds its default system prompt, if it has
        one. None or ``""`` (lean): an empty system turn when that renders shorter than no system turn, i.e. when the
        template would insert a default system prompt; else none (templates without one, such as Qwen3's, or that
        reject system turns), so the prompt stays as close to the model's chat format as it can at fewest tokens.
        """
        if self.system == SYSTEM_DEFAULT:
            return None
        if self.system or not self.chat:
            return self.system or None
        user = [{"role": "user", "content": "x"}]
        try:
            lean = self._template_tokens([{"role": "system", "content": ""}, *user])
        except TemplateError:  # e.g. Gemma's template raises on a system turn
            return None
        return "" if lean < self._template_tokens(user) else None

    def _template_tokens(self, messages: list[dict]) -> int:
        prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                    **self.spec.chat_template_kwargs)
        return len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])

    def overhead(self) -> int:
        """Tokens of a row with empty text: the chat template (with ``--system``) or the special tokens."""
        if self.chat:
            return len(self.tokenizer([self.render(Example(""))], add_special_tokens=False)["input_ids"][0])
        return len(self.tokenizer([""])["input_ids"][0])

    def _clip(self, ex: Example) -> Example:
        """``ex`` with every text cut to the character budget on the truncation side (``<image>`` tags kept)."""
        # Chunked rows keep up to max_chunks windows of text, truncated ones one.
        span = self.max_length * (self.chunk.max_chunks if self.chunked else 1)
        if ex.messages is None and len(ex.text or "") <= 2 * span and len(ex.text_pair or "") <= 2 * span:
            return ex  # no budget is smaller (below): a short text row as it is, at the cost of two len() calls
        texts = [ex.text or "", ex.text_pair or "", *(m["content"] for m in ex.messages or [])]
        if max(map(len, texts)) <= 2 * span:  # no budget is smaller: skip reading the vocabulary
            return ex
        if self._budget is None:
            self._budget = char_budget(self.tokenizer, span)
        budget, side = self._budget, self.truncation_side

        def cut(text):
            if text is None or len(text) <= budget:
                return text
            if not ex.images:
                return clip(text, budget, side)
            return images.IMAGE_TAG.join(clip(part, budget, side) for part in text.split(images.IMAGE_TAG))

        messages = None if ex.messages is None else [{**m, "content": cut(m["content"])} for m in ex.messages]
        return replace(ex, text=cut(ex.text), text_pair=cut(ex.text_pair), messages=messages)

    def _content(self, ex: Example, text: str | None = None) -> str:
        """The row's text (``text`` in its place when given), inside ``--prompt`` when there is one."""
        if ex.messages is not None:
            return "\n".join(m["content"] for m in ex.messages)
        if text is None:
            text = ex.text if ex.text_pair is None else f"{ex.text}\n{ex.text_pair}"
        return text if self.prompt is None else fill_text(self.prompt, text)

    def prompt_string(self, ex: Example) -> str:
        """The string a text row becomes before tokenization: the chat prompt ending with the generation prompt, or
        (no chat template) the text inside ``--prompt``; the model answers right after its last token."""
        return self.render(ex) if self.chat else self._content(ex)

    def _fit_prompt(self, ex: Example) -> list[int]:
        """Ids of an over-long ``--prompt`` row with its text cut, never the instruction around it: the prompt's end
        (\"Answer with the label only.\", the generation prompt) is where the model answers."""
        text = ex.text if ex.text_pair is None else f"{ex.text}\n{ex.text_pair}"
        for _ in range(3):  # re-tokenizing cut text can shift a token or two at the cut
            content = self._content(ex, text)
            if self.chat:
                ids = self.tokenizer(self.render(ex, content=content), add_special_tokens=False)["input_ids"]
            else:
                ids = self.tokenizer(content)["input_ids"]
            if len(ids) <= self.max_length:
                return ids
            text = cut_tokens(self.tokenizer, text, len(ids) - self.max_length, self.truncation_side)
        raise DataError(f"{len(ids)} tokens even with the text cut away: the --prompt template alone is longer than "
                        f"--max_length {self.max_length}.", field="text", **ex.where,
                        fix="raise --max_length or shorten --prompt.")

    def chat_messages(self, ex: Example, content: str | None = None) -> list[dict]:
        """The turns of ``ex`` (or ``content`` as one user turn) with ``--system`` first unless it has one.

        Plain text and text+pair rows are one user turn; SWIFT ``messages`` rows keep all their turns.
        """
        if ex.messages is not None and content is None:
            messages = [dict(m) for m in ex.messages]
        else:
            messages = [{"role": "user", "content": content if content is not None else self._content(ex)}]
        if self.system_turn is not None and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": self.system_turn})
        return messages

    def render(self, ex: Example, content: str | None = None, messages: list[dict] | None = None) -> str:
        """The prompt string for a decoder with a chat template."""
        if messages is None:
            messages = self.chat_messages(ex, content)
        elif self.system_turn is not None and messages[0]["role"] != "system":
            messages = [{"role": "system", "content": self.system_turn}, *messages]
        spliced = None if self._splice is None else self._splice.prompt(messages)
        return self._jinja(messages) if spliced is None else spliced

    def _jinja(self, messages: list[dict]) -> str:
        """``messages`` rendered by the chat template itself (see swiftcls/data/splice.py for the fast path)."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                  **self.spec.chat_template_kwargs)

    def _shorten(self, ex: Example) -> list[int]:
        """Cut an over-long chat prompt inside its messages (see :class:`ChatTruncator`): every kept turn keeps
        its role, a system message survives, and the template's end and generation prompt stay intact."""
        truncator = ChatTruncator(self.tokenizer, lambda messages: self.render(ex, messages=messages),
                                  self.max_length, self.truncation_side)
        return truncator(self.chat_messages(ex))

    def _image_prompt_ids(self, ex: Example, messages: list[dict], counts: list[int]) -> list[int]:
        """Prompt ids of an image row with each vision placeholder expanded to its image's token count."""
        messages = images.image_messages(messages, len(counts), ex.where, self.spec.image_placeholder)
        prompt = self.render(ex, messages=messages) if self.chat else "\n".join(m["content"] for m in messages)
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        return images.expand_image_pads(ids, self.tokenizer.convert_tokens_to_ids(self.spec.image_token), counts)

    def _cut_text(self, messages: list[dict], excess: int) -> list[dict]:
        """Drop ``excess`` text tokens inside the messages, in :func:`~swiftcls.data.truncate.cut_order` (the last
        turn's end first, or the first turn's start with left truncation), keeping every turn and ``<image>`` tag."""
        left = self.truncation_side == "left"
        pieces = [[self.tokenizer(t, add_special_tokens=False)["input_ids"]
                   for t in m["content"].split(images.IMAGE_TAG)] for m in messages]
        for i in cut_order(messages, self.truncation_side):
            parts = pieces[i]
            for j in range(len(parts)) if left else reversed(range(len(parts))):
                cut = min(excess, len(parts[j]))
                parts[j] = parts[j][cut:] if left else parts[j][:len(parts[j]) - cut]
                excess -= cut
        return [{**m, "content": images.IMAGE_TAG.join(self.tokenizer.decode(p) for p in parts)}
                for m, parts in zip(messages, pieces)]

    def _encode_images(self, ex: Example) -> dict:
        """Token ids with expanded image placeholders, and the resolved image paths, for a row with images.

        An over-long row loses text, never image tokens nor turns; if the images alone do not fit it is a row error.
        """
        paths = [images.resolve_image(p, ex.file) for p in ex.images]
        counts = [images.image_tokens(self.image_processor, p, ex.where) for p in paths]
        messages = ex.messages or [{"role": "user", "content": self._content(ex)}]
        ids = self._image_prompt_ids(ex, messages, counts)
        for _ in range(3):  # re-tokenizing cut text can shift a token or two at the cut
            if len(ids) <= self.max_length:
                return {"input_ids": ids, "images": [str(p) for p in paths]}
            messages = self._cut_text(messages, len(ids) - self.max_length)
            ids = self._image_prompt_ids(ex, messages, counts)
        raise DataError(f"{len(ids)} tokens with its {len(paths)} image(s) ({sum(counts)} image tokens) even with "
                        f"the text cut, more than --max_length {self.max_length}; image tokens cannot be truncated.",
                        field="images", **ex.where, fix="raise --max_length or lower --max_pixels.")

    def _encoder_rows(self, chunk: list[Example]) -> list[dict]:
        """Encoder rows of a chunk (windows of long rows with ``--long_text chunk``); rows with and without a text
        pair (concatenated files) are tokenized apart, as the tokenizer takes a list of pairs only when every row
        has one."""
        texts = [ex.text if ex.messages is None else self._content(ex) for ex in chunk]
        pairs = [ex.text_pair for ex in chunk]
        rows = [None] * len(chunk)
        for paired in (True, False):
            idx = [i for i, p in enumerate(pairs) if (p is not None) == paired]
            if not idx:
                continue
            part, part_pairs = [texts[i] for i in idx], [pairs[i] for i in idx] if paired else None
            if self.chunked:
                windows = chunking.encoder_windows(self.tokenizer, part, part_pairs, self.max_length,
                                                   self.chunk.stride)
                got = self._capped(windows, [chunk[i] for i in idx])
            else:
                out = self.tokenizer(part, part_pairs, truncation=True, max_length=self.max_length)
                got = [{k: out[k][j] for k in ("input_ids", "token_type_ids") if k in out} for j in range(len(idx))]
            for i, row in zip(idx, got):
                rows[i] = row
        return rows

    def _capped(self, windows: list[list[dict]], examples: list[Example]) -> list[dict]:
        """Rows from their windows, at most ``max_chunks`` each (a one-window row is an ordinary row)."""
        windows = chunking.cap_windows(windows, self.chunk, [ex.where for ex in examples])
        return [chunking.windowed(w, self.chunk) for w in windows]

    def _decoder_windows(self, ex: Example) -> list[dict]:
        """Windows of a long text or text+pair row for a decoder: the prompt (chat template, or the raw text with the
        tokenizer's BOS) around each window of the text, or of ``text_pair`` with ``text`` kept in every window."""
        head, body = (None, ex.text) if ex.text_pair is None else (ex.text, ex.text_pair)
        if head is not None:  # the first text takes at most half the room, so windows still hold new text
            head_ids = self.tokenizer(head, add_special_tokens=False)["input_ids"]
            half = (self.max_length - self._overhead) // 2 - 1  # - 1: the newline before the chunked text
            head = head if len(head_ids) <= half else self.tokenizer.decode(head_ids[:half])
        content = chunking.MARKER if head is None else f"{head}\n{chunking.MARKER}"
        if self.prompt is not None:  # every window inside the --prompt instruction
            content = fill_text(self.prompt, content)
        prompt = self.render(ex, content) if self.chat else content
        body_ids = self.tokenizer(body, add_special_tokens=False)["input_ids"]
        return chunking.wrapped_windows(self.tokenizer, prompt, body_ids, self.max_length, self.chunk.stride,
                                        self.truncation_side, leading_specials=not self.chat)

    def _decoder_rows(self, chunk: list[Example]) -> list[dict]:
        """Decoder rows of a chunk: chat prompts, or the raw text; over-long ones cut (``--long_text truncate``) or
        split into windows (``chunk``: text rows; ``messages`` rows are cut as with truncate)."""
        if self.chat:
            ids = self._chat_ids(chunk)
        else:  # chunked rows need their whole length to know they are long
            # --prompt rows are cut in their text only (_fit_prompt), never in the instruction around it
            cut = {} if self.chunked or self.prompt is not None else {"truncation": True, "max_length": self.max_length}
            ids = self.tokenizer([self._content(ex) for ex in chunk], **cut)["input_ids"]
        rows = [{"input_ids": row} for row in ids]
        long = [i for i, row in enumerate(ids) if len(row) > self.max_length and not chunk[i].images]
        windowed = [i for i in long if self.chunked and chunk[i].messages is None]
        for i, row in zip(windowed, self._capped([self._decoder_windows(chunk[i]) for i in windowed],
                                                 [chunk[i] for i in windowed])):
            rows[i] = row
        for i in sorted(set(long) - set(windowed)):
            if self.prompt is not None:
                rows[i] = {"input_ids": self._fit_prompt(chunk[i])}
                continue
            rows[i] = {"input_ids": self._shorten(chunk[i]) if self.chat else self.tokenizer(
                self._content(chunk[i]), truncation=True, max_length=self.max_length)["input_ids"]}
        return rows

    def _chat_ids(self, chunk: list[Example]) -> list[list[int]]:
        """Ids of the chat prompts of ``chunk``; of a spliced prompt only the text between the template's constant
        ends is tokenized (swiftcls/data/token_splice.py: the same ids as tokenizing the whole prompt)."""
        splice = self._token_splice
        texts = [None if splice is None else self._splice.text(self.chat_messages(ex)) for ex in chunk]
        spliced = iter(splice.encode(self.tokenizer, [t for t in texts if t is not None]) if splice else ())
        rendered = [self.render(ex) for ex, t in zip(chunk, texts) if t is None]
        rendered = iter(self.tokenizer(rendered, add_special_tokens=False, return_attention_mask=False)["input_ids"]
                        if rendered else ())
        return [next(rendered) if t is None else next(spliced) for t in texts]

    def encode(self, examples: list[Example], desc: str = "Tokenizing") -> list[dict]:
        """Token ids (and token type ids for encoders) for each example, in order."""
        return self.encode_kept(examples, desc)[1]

    def encode_kept(self, examples: list[Example], desc: str = "Tokenizing",
                    skipped: list[DataError] | None = None) -> tuple[list[int], list[dict]]:
        """Like :meth:`encode`, but rows whose images are missing, broken or too large for ``max_length`` are
        appended to ``skipped`` and left out when ``skipped`` is a list (``--skip_bad_rows``).

        Returns:
            The indices of the kept examples and their encoded rows.
        """
        with_images = next((ex for ex in examples if ex.images), None)
        if with_images is not None and self.image_processor is None:
            raise ConfigError(f"{with_images.file}, row {with_images.row}: the data has images but model family "
                              f"'{self.spec.name}' is text-only; use an image+text model (e.g. Qwen2-VL) or drop "
                              "the 'images' field (--columns '{\"images\": \"ignore\"}').")
        rejected = prompt_rejects(self.prompt, examples)
        if rejected is not None:
            raise rejected
        kept, out = [], []
        bar = tqdm(total=len(examples), desc=desc, unit="row", disable=len(examples) < 5000)
        for start in range(0, len(examples), _CHUNK):
            chunk = [self._clip(ex) for ex in examples[start:start + _CHUNK]]
            rows = self._decoder_rows(chunk) if self.spec.kind == "decoder" else self._encoder_rows(chunk)
            for i, ex in enumerate(chunk):
                if ex.images:
                    try:
                        row = self._encode_images(ex)
                    except DataError as err:
                        if skipped is None:
                            raise
                        skipped.append(err)
                        continue
                else:
                    row = rows[i]
                kept.append(start + i)
                out.append(row)
            bar.update(len(chunk))
        bar.close()
        self._log_overhead(out)
        return kept, out

    def _log_overhead(self, rows: list[dict]) -> None:
        """Log, once, the tokens every row spends on the prompt around its text (chat template, system prompt,
        special tokens) against the median text of ``rows``: the share of compute that carries no information."""
        lengths = [len(r["input_ids"]) for r in rows if r.get("input_ids") and isinstance(r["input_ids"][0], int)]
        if self._overhead_logged or not lengths:
            return
        self._overhead_logged = True
        median_text = max(statistics.median(lengths) - self._overhead, 1)
        what = "chat template" + (" and system prompt" if self.system_turn else "") if self.chat else "special tokens"
        logger.info("prompt overhead %d tokens/row, %.0f%% of the median text (%g tokens; %s%s).", self._overhead,
                    100 * self._overhead / median_text, median_text, what,
                    ", the template's default system prompt kept" if self.chat and self.system == SYSTEM_DEFAULT
                    else "")
