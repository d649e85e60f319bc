"""Options of instruction prompts, the label-name head and zero-shot prediction (docs/zero_shot.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..core.errors import ConfigError
from ..core.prompt_template import DEFAULT_PROMPT, check_prompt
from .fields import arg


@dataclass
class PromptArguments:
    """An instruction template around each row's text (decoder LLMs)."""

    _argument_group_name = "Prompt"

    prompt: str | None = arg(None, "Instruction template for decoder LLMs with {text} (the row's text, exactly once) "
                                   "and optionally {labels} (the label names, comma-separated); other braces stay as "
                                   "written. sft saves it in args.json and infer/eval/export/deploy reuse it. Default: "
                                   "none (the text alone), or with --head_init label_names / --zero_shot a built-in "
                                   "prompt that lists the labels (docs/zero_shot.md).")

    def __post_init__(self):
        check_prompt(self.prompt)
        parent = getattr(super(), "__post_init__", None)
        if parent:
            parent()


@dataclass
class HeadInitArguments:
    """How the classification head starts (sft)."""

    _argument_group_name = "Head initialisation"

    head_init: Literal["random", "label_names"] = arg(
        "random", "random: transformers' random head. label_names (decoder LLMs, single-label): each class's row is "
                  "the LM head row of its name's first answer token, so at step 0 the classifier scores exactly as "
                  "the LLM answers the --prompt (which then defaults to one listing the labels). docs/zero_shot.md.")

    def __post_init__(self):
        if self.head_init == "label_names" and self.prompt is None:
            self.prompt = DEFAULT_PROMPT  # the model must be asked for a label for its answer to mean one
        parent = getattr(super(), "__post_init__", None)
        if parent:
            parent()


@dataclass
class ZeroShotArguments:
    """Predict with a base LLM and label names, no training (infer/eval)."""

    _argument_group_name = "Zero-shot"

    zero_shot: bool = arg(False, "--model is a base (instruct) LLM, not a trained classifier: its head is built "
                                 "from --labels as sft --head_init label_names does, and rows are answered with no "
                                 "training. Uses --prompt (default: a built-in prompt listing the labels).")
    labels: list[str] = arg([], "With --zero_shot: the label names in id order (inline or one file with one name "
                                "per line); the rows' labels must be these names or their ids.")

    def __post_init__(self):
        if self.zero_shot:
            if not self.labels:
                raise ConfigError("--zero_shot needs --labels: the names the model chooses from, e.g. --labels "
                                  "negative positive.")
            if getattr(self, "adapters", None):
                raise ConfigError("--zero_shot predicts with a base model and no training; drop --adapters (or "
                                  "drop --zero_shot to use the trained adapters).")
            if getattr(self, "infer_backend", "pt") == "vllm":
                raise ConfigError("--zero_shot runs on --infer_backend pt: vLLM serves exported checkpoints, and a "
                                  "zero-shot head has none; train one with sft --head_init label_names and export "
                                  "it (docs/zero_shot.md).")
            if self.prompt is None:
                self.prompt = DEFAULT_PROMPT
        elif self.labels:
            raise ConfigError("--labels is only for --zero_shot: a trained checkpoint already carries its labels.")
        parent = getattr(super(), "__post_init__", None)
        if parent:
            parent()
