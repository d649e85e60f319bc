"""``--head_init label_names``: a decoder's classification head copied from its own LM head.

A decoder classifier pools the hidden state of the prompt's last token, the position where the LM predicts its
answer's first token, and applies ``score`` (``[num_labels, hidden]``, no bias in transformers' decoder
classifiers). The LM applies ``lm_head`` (``[vocab, hidden]``) to the same hidden state (both after the final norm).
Setting ``score``'s row ``i`` to ``lm_head``'s row of label ``i``'s first answer token therefore makes the classifier's
logits *equal* the LM's next-token logits restricted to those tokens, and its softmax the LM's answer distribution
renormalised over the labels: zero-shot at step 0, and a head that fine-tuning starts from the LM's own judgement.

Answer tokens: each name is tokenized as the text that follows the prompt (after a space when the prompt does not
end in whitespace, as in "Answer: positive"; right after the chat template's generation prompt otherwise), and its
first token counts. Names whose first tokens coincide cannot be told apart by the LM's first answer token and are an
error. Only the first token counts: the LM's next-token logit of a name's later tokens is not defined at this
position, and a mean of rows would break the equality above.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from safetensors import safe_open

from ..core.errors import ConfigError

logger = logging.getLogger(__name__)

LM_HEAD = "lm_head.weight"


def answer_token_ids(tokenizer, names: list[str], prompt: str) -> list[int]:
    """The first token the LM would write for each label name right after ``prompt``.

    Args:
        tokenizer: The model's tokenizer.
        names: Label names in id order.
        prompt: A rendered prompt (any row's; only its end matters).

    Raises:
        ConfigError: Two names start with the same token.
    """
    sep = "" if not prompt or prompt[-1].isspace() else " "
    base = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = []
    for name in names:
        full = tokenizer(prompt + sep + name, add_special_tokens=False)["input_ids"]
        if full[:len(base)] == base and len(full) > len(base):
            ids.append(full[len(base)])
        else:  # the name merged with the prompt's last token: its own first token is the closest answer
            ids.append(tokenizer(sep + name, add_special_tokens=False)["input_ids"][0])
    seen: dict[int, str] = {}
    for name, token in zip(names, ids):
        if token in seen:
            raise ConfigError(
                f"labels {seen[token]!r} and {name!r} both start with the token {tokenizer.decode([token])!r}, so the "
                "LM's first answer token cannot tell them apart and --head_init label_names cannot give them "
                "different rows. Fix: rename the labels (--labels) so their first words differ, or use --head_init "
                "random.")
        seen[token] = name
    return ids


def _weight_files(model_dir: str) -> list[Path]:
    folder = Path(model_dir)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        return sorted({folder / f for key, f in weight_map.items() if key.endswith(LM_HEAD)})
    return sorted(folder.glob("*.safetensors"))


def _lm_head_rows(model_dir: str, ids: list[int]) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """Rows ``ids`` of the checkpoint's ``lm_head`` weight (and bias), read without loading the rest; None if it has
    none (tied embeddings)."""
    for path in _weight_files(model_dir):
        with safe_open(str(path), framework="pt") as f:
            key = next((k for k in f.keys() if k == LM_HEAD or k.endswith("." + LM_HEAD)), None)
            if key is None:
                continue
            weight = f.get_slice(key)
            rows = torch.cat([weight[i:i + 1] for i in ids])
            bias_key = key[:-len("weight")] + "bias"
            bias = f.get_slice(bias_key) if bias_key in f.keys() else None
            return rows, None if bias is None else torch.cat([bias[i:i + 1] for i in ids])
    return None


def init_label_name_head(model, head: str, model_dir: str, ids: list[int]) -> None:
    """Set the classification head ``head`` of ``model`` from the LM head rows ``ids`` (one per label, in order).

    The LM head is the checkpoint's ``lm_head`` or, with tied word embeddings, the input embedding matrix. A head
    bias (none in transformers' decoder classifiers) becomes the LM head's bias at those tokens, or zero.

    Raises:
        ConfigError: The head is not a linear layer of ``len(ids)`` rows, or the checkpoint has no LM head.
    """
    layer = getattr(model, head)
    if not isinstance(layer, torch.nn.Linear) or layer.out_features != len(ids):
        raise ConfigError(f"--head_init label_names: the head '{head}' is {type(layer).__name__}, not a linear layer "
                          f"with one row per label ({len(ids)}); this family's head cannot be copied from its LM head.")
    text_config = model.config.get_text_config()
    found = None if getattr(text_config, "tie_word_embeddings", False) else _lm_head_rows(model_dir, ids)
    if found is None:
        if not getattr(text_config, "tie_word_embeddings", False):
            raise ConfigError(f"{model_dir}: the checkpoint has no {LM_HEAD} and does not tie it to the word "
                              "embeddings, so there is no LM head to start a label-name head from. Fix: pass the "
                              "base LLM checkpoint (with its LM head), or use --head_init random.")
        found = model.get_input_embeddings().weight[ids].detach(), None
    rows, bias = found
    for name in ("final_logit_softcapping", "logit_scale"):
        if getattr(text_config, name, None):
            logger.warning("%s: the LM applies %s to its logits; the label-name head starts from the logits before "
                           "it (same ranking, different probabilities).", model_dir, name)
    with torch.no_grad():
        layer.weight.copy_(rows.to(layer.weight.dtype))
        if layer.bias is not None:
            layer.bias.copy_(bias.to(layer.bias.dtype) if bias is not None else torch.zeros_like(layer.bias))
