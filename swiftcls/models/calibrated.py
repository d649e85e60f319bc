"""Fold a calibration temperature into the classification head: logits z / T from the model itself.

The head's last linear layer computes ``z = W h + b``; dividing row ``j`` of ``W`` and ``b`` by ``T_j`` gives
``z_j / T_j`` exactly, so every loader of the weights (transformers, vLLM's pooling runner, swiftcls) returns
calibrated logits, and softmax / sigmoid of them calibrated probabilities, with no code of ours at run time.
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.decisions import CALIBRATION_KEY, THRESHOLDS_KEY, Decisions
from ..core.errors import ConfigError
from ..core.spec import ModelSpec


def _head_linears(model, spec: ModelSpec, num_labels: int) -> list[nn.Linear]:
    """The linear layers producing the logits: under a head module, ``out_features == num_labels`` (a LoRA
    checkpoint's head is a ``modules_to_save`` wrapper holding a trained copy and the original: both are folded)."""
    found = []
    for name, module in model.named_modules():
        parts = name.split(".")
        if isinstance(module, nn.Linear) and module.out_features == num_labels and any(h in parts for h in spec.head):
            found.append(module)
    return found


@torch.no_grad()
def fold_temperature(model, spec: ModelSpec, temperature: list[float]) -> None:
    """Divide the head's output rows (weight and bias) by their temperatures, in place.

    Raises:
        ConfigError: No head layer with one output per label was found (nothing would be calibrated).
    """
    linears = _head_linears(model, spec, len(temperature))
    if not linears:
        raise ConfigError(f"cannot apply the calibration temperature: no {spec.head} linear layer with "
                          f"{len(temperature)} outputs in this {spec.name} model.")
    for linear in linears:
        scale = torch.tensor(temperature, dtype=torch.float64)
        linear.weight.copy_((linear.weight.double() / scale[:, None]).to(linear.weight.dtype))
        if linear.bias is not None:
            linear.bias.copy_((linear.bias.double() / scale).to(linear.bias.dtype))


def apply_decisions(model, spec: ModelSpec, decisions: Decisions, calibration: dict | None) -> None:
    """Fold an unfolded temperature into ``model`` and record the decisions on its config (exports save them).

    Args:
        model: The loaded classifier (LoRA adapters loaded already, if any).
        spec: Its family spec.
        decisions: What its checkpoint says (:func:`swiftcls.core.decisions.read_decisions`).
        calibration: The raw ``swiftcls_calibration`` field, or None.
    """
    config = model.config
    if decisions.temperature is not None and not decisions.folded:
        fold_temperature(model, spec, decisions.temperature)
    if calibration is not None:
        setattr(config, CALIBRATION_KEY, {**calibration, "folded_into_head": True})
    if decisions.thresholds is not None:
        setattr(config, THRESHOLDS_KEY, dict(decisions.thresholds))
