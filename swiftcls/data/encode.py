"""Prompt formatting, tokenization and dynamic padding."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ..registry import ModelSpec
from .dataset import Example

_CHUNK = 1024


def pick_pad_token(tokenizer, spec: ModelSpec) -> None:
    """Give decoder tokenizers a pad token that can never be mistaken for the prompt's last token.

    Pooling takes the last non-pad token (transformers and vLLM alike), so the pad token must not be
    a token prompts end with; ``eos`` often is, which silently pools the wrong position.
    """
    if spec.kind != "decoder":
        return
    bad = {tokenizer.eos_token} if tokenizer.eos_token else set()
    if tokenizer.pad_token is not None and tokenizer.pad_token not in bad:
        return
    vocab = tokenizer.get_vocab()
    for candidate in spec.pad_token_candidates:
        if candidate in vocab and candidate not in bad:
            tokenizer.pad_token = candidate
            return
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        # No spare token in the vocabulary: eos is still safe because prompts are never closed with eos.
        tokenizer.pad_token = tokenizer.eos_token


@dataclass
class PromptEncoder:
    """Turns examples into token ids the way the model family expects.

    Decoders: the text (and pair, joined by a newline) becomes one user turn of the chat template with
    the generation prompt appended, so the pooled last token is where the model would start answering;
    without a template the raw text is used. Encoders: ``tokenizer(text, text_pair)``.
    """

    tokenizer: object
    spec: ModelSpec
    max_length: int = 512
    use_chat_template: bool | None = None
    system: str | None = None
    truncation_side: str = "right"

    def __post_init__(self):
        has_template = bool(getattr(self.tokenizer, "chat_template", None))
        wanted = self.spec.use_chat_template if self.use_chat_template is None else self.use_chat_template
        self.chat = bool(wanted and has_template and self.spec.kind == "decoder")
        self.tokenizer.truncation_side = self.truncation_side

    def _content(self, ex: Example) -> str:
        if ex.messages is not None:
            return "\n".join(m["content"] for m in ex.messages)
        return ex.text if ex.text_pair is None else f"{ex.text}\n{ex.text_pair}"

    def render(self, ex: Example, content: str | None = None) -> str:
        """The prompt string for a decoder with a chat template."""
        if ex.messages is not None and content is None:
            messages = [dict(m) for m in ex.messages]
        else:
            messages = [{"role": "user", "content": content if content is not None else self._content(ex)}]
        if self.system and messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": self.system})
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                  **self.spec.chat_template_kwargs)

    def _shorten(self, ex: Example, ids: list[int]) -> list[int]:
        """Cut an over-long chat prompt inside the user text, keeping the template around it intact."""
        content_ids = self.tokenizer(self._content(ex), add_special_tokens=False)["input_ids"]
        for _ in range(3):
            keep = max(1, len(content_ids) - (len(ids) - self.max_length))
            content_ids = content_ids[-keep:] if self.truncation_side == "left" else content_ids[:keep]
            text = self.tokenizer.decode(content_ids)
            ids = self.tokenizer(self.render(ex, text), add_special_tokens=False)["input_ids"]
            if len(ids) <= self.max_length:
                return ids
        return ids[-self.max_length:] if self.truncation_side == "left" else ids[:self.max_length]

    def encode(self, examples: list[Example], desc: str = "Tokenizing") -> list[dict]:
        """Token ids (and token type ids for encoders) for each example, in order."""
        out = []
        bar = tqdm(total=len(examples), desc=desc, unit="row", disable=len(examples) < 5000)
        for start in range(0, len(examples), _CHUNK):
            chunk = examples[start:start + _CHUNK]
            if self.chat:
                batch = self.tokenizer([self.render(ex) for ex in chunk], add_special_tokens=False)
            elif self.spec.kind == "decoder":
                batch = self.tokenizer([self._content(ex) for ex in chunk], truncation=True,
                                       max_length=self.max_length)
            else:
                texts = [ex.text if ex.messages is None else self._content(ex) for ex in chunk]
                pairs = [ex.text_pair for ex in chunk]
                batch = self.tokenizer(texts, pairs if any(p is not None for p in pairs) else None,
                                       truncation=True, max_length=self.max_length)
            for i, ex in enumerate(chunk):
                row = {k: batch[k][i] for k in ("input_ids", "token_type_ids") if k in batch}
                if self.chat and len(row["input_ids"]) > self.max_length:
                    row["input_ids"] = self._shorten(ex, row["input_ids"])
                out.append(row)
            bar.update(len(chunk))
        bar.close()
        return out


@dataclass
class Collator:
    """Pads a batch to its longest row (dynamic padding) and stacks labels with the right dtype."""

    pad_token_id: int
    padding_side: str = "right"
    label_dtype: torch.dtype = torch.long

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(r["input_ids"]) for r in rows)
        batch = {"input_ids": [], "attention_mask": []}
        has_types = "token_type_ids" in rows[0]
        if has_types:
            batch["token_type_ids"] = []
        for r in rows:
            n, pad = len(r["input_ids"]), longest - len(r["input_ids"])
            parts = {"input_ids": (r["input_ids"], self.pad_token_id), "attention_mask": ([1] * n, 0)}
            if has_types:
                parts["token_type_ids"] = (r["token_type_ids"], 0)
            for key, (values, fill) in parts.items():
                batch[key].append([fill] * pad + values if self.padding_side == "left" else values + [fill] * pad)
        tensors = {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}
        if "labels" in rows[0]:
            tensors["labels"] = torch.tensor([r["labels"] for r in rows], dtype=self.label_dtype)
        return tensors
