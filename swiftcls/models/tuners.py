"""LoRA and freezing: which modules adapt, which stay frozen, and loading trained adapters."""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model

from ..core.errors import ConfigError
from ..core.spec import ModelSpec

logger = logging.getLogger(__name__)


def linear_targets(model, exclude: list[str], full_names: bool = False) -> list[str]:
    """Every nn.Linear outside ``exclude`` (the head, frozen parts): what ``all-linear`` means for a classifier.

    Leaf names (``q_proj``) by default; full names where leaf names are ambiguous (a VL vision tower's ``qkv``).
    """
    names = set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and not any(_under(name, e) for e in exclude):
            names.add(name if full_names else name.rsplit(".", 1)[-1])
    return sorted(names)


def excluded_linears(model, spec: ModelSpec) -> list[str]:
    """Full names of the nn.Linear modules the template's ``lora_exclude`` names: what LoRA never adapts.

    A pattern matches a module whose full name is the pattern or ends with ``.`` + the pattern: ``mlp.gate`` matches
    ``model.layers.3.mlp.gate`` but not ``mlp.shared_expert_gate``. Mixture-of-Experts templates list their routers
    here (LoRA on a router would change which experts each token uses).
    """
    return [name for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)
            and any(name == p or name.endswith("." + p) for p in spec.lora_exclude)]


def _under(name: str, prefix: str | list[str] | None) -> bool:
    """Whether ``name`` is the module ``prefix`` (or one of a list of prefixes) or inside it."""
    if isinstance(prefix, list):
        return any(_under(name, p) for p in prefix)
    return bool(prefix) and (name == prefix or name.startswith(prefix + "."))


def _frozen_vision(name: str, spec: ModelSpec, freeze_vit: bool, freeze_aligner: bool) -> bool:
    """Whether module/parameter ``name`` belongs to a frozen part of the vision side."""
    if _under(name, spec.aligner):
        return freeze_aligner
    return freeze_vit and _under(name, spec.vision_tower)


def frozen_vision_modules(spec: ModelSpec, freeze_vit: bool = True, freeze_aligner: bool = True) -> list[str]:
    """Module paths that must not train: the vision encoder (minus the aligner) and/or the aligner."""
    if not spec.multimodal:
        return []
    return [spec.vision_tower] * bool(spec.vision_tower and freeze_vit) + (spec.aligner if freeze_aligner else [])


def freeze_vision(model, spec: ModelSpec, freeze_vit: bool = True, freeze_aligner: bool = True) -> None:
    """Full fine-tuning of a multimodal model: switch off gradients of the frozen vision parts."""
    frozen = frozen_vision_modules(spec, freeze_vit, freeze_aligner)
    for name, param in model.named_parameters():
        if _frozen_vision(name, spec, freeze_vit, freeze_aligner):
            param.requires_grad_(False)
    if frozen:
        logger.info("Frozen vision modules: %s (vit=%s, aligner=%s)", frozen, freeze_vit, freeze_aligner)


def apply_lora(model, spec: ModelSpec, new_modules: list[str], rank: int = 8, alpha: int = 32,
               dropout: float = 0.05, target_modules: list[str] | None = None, modules_to_save: list[str] = (),
               freeze_vit: bool = True, freeze_aligner: bool = True, autocast_adapter_dtype: bool = True):
    """Wrap ``model`` with LoRA; the head and every freshly initialised module are trained fully and saved.

    PEFT only saves the modules it is told about: a head it does not know (or a BERT pooler missing from the
    checkpoint) would be re-initialised randomly at load time. Listing them in ``modules_to_save`` fixes that.
    Multimodal models: linears of the vision encoder / aligner get no LoRA while ``freeze_vit`` /
    ``freeze_aligner`` (the default), so LoRA adapts the language model only. ``all-linear`` and ``default`` skip
    what the template's ``lora_exclude`` names (:func:`excluded_linears`: MoE routers). ``autocast_adapter_dtype=False``
    keeps the adapters in the model's dtype: DeepSpeed (ZeRO-3 + bf16) needs one dtype for all parameters.
    """
    save = sorted(set(spec.head) | set(new_modules) | set(modules_to_save))
    save = [m for m in save if any(n == m or n.endswith("." + m) for n, _ in model.named_modules())]
    targets = list(target_modules or ["all-linear"])
    frozen = [name for name, module in model.named_modules() if spec.multimodal
              and isinstance(module, torch.nn.Linear) and _frozen_vision(name, spec, freeze_vit, freeze_aligner)]
    if targets in (["default"], ["all-linear"]):
        frozen += excluded_linears(model, spec)  # excluded by full name too, in case a leaf name is shared
    if targets == ["default"]:
        targets = spec.lora_target_modules
    if targets == ["all-linear"]:
        targets = linear_targets(model, exclude=save + frozen, full_names=spec.multimodal)
    if not targets:
        raise ConfigError("no LoRA target modules found; pass --target_modules explicitly.")
    # Leaf-name targets such as "dense" would also match linears inside saved modules: exclude them by full name.
    inside_saved = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
                    and any(n == s or n.startswith(s + ".") or f".{s}." in f".{n}." for s in save)]
    inside_saved += frozen
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=rank, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=targets, modules_to_save=save, exclude_modules=inside_saved or None)
    with _no_checkpointing_deprecation():
        return get_peft_model(model, config, autocast_adapter_dtype=autocast_adapter_dtype)


def load_adapters(model, adapters: str):
    """Attach a trained LoRA checkpoint (adapters + saved head) for inference."""
    if not (Path(adapters) / "adapter_config.json").is_file():
        raise ConfigError(f"--adapters {adapters}: no adapter_config.json (is it a full checkpoint? use --model).")
    if not (Path(adapters) / "adapter_model.safetensors").is_file():
        # peft would fall back to torch.load on adapter_model.bin, i.e. unpickle it.
        raise ConfigError(f"--adapters {adapters}: no adapter_model.safetensors; swiftcls refuses pickled adapters "
                          "(adapter_model.bin) because loading them can run code. Fix: re-save them with "
                          "safe_serialization=True.")
    with _no_checkpointing_deprecation():
        return PeftModel.from_pretrained(model, adapters, is_trainable=False)


@contextlib.contextmanager
def _no_checkpointing_deprecation():
    """peft asks the model ``is_gradient_checkpointing``, which transformers 5 deprecates: a FutureWarning on every
    LoRA run and export that no user can act on. Only that warning is ignored, only inside peft's calls."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield
