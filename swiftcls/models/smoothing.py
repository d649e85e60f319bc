"""SmoothQuant-style smoothing before int8 export: move activation outliers into the weights.

Dynamic int8 quantizes a matrix product's input with one scale per tensor, so a few input channels that run much
larger than the rest (as in a decoder's normalised residual stream) squeeze every other channel into a handful of
int8 steps. Smoothing divides input channel ``j`` by ``s_j`` and multiplies the weights' input column ``j`` by
``s_j``, with ``s_j = max|x_j| ** alpha / max|w_j| ** (1 - alpha)`` measured on calibration rows (Xiao et al. 2023,
SmoothQuant). The division is folded into the module that produces the input (an RMSNorm/LayerNorm weight, or the
rows of a linear layer), so the float model computes the same function and the exported graph gains no operator.

The family spec's ``onnx_int8_smooth`` names the pairs inside each block: ``{alpha, pairs: {producer: [linear,
...]}}``, module paths relative to the block. Every consumer of a producer's output must be listed (the division
reaches all of them), which tests/models/test_smoothing.py checks for each spec by comparing logits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

logger = logging.getLogger(__name__)


def _blocks(model: torch.nn.Module, pairs: dict[str, list[str]]) -> list[tuple[str, torch.nn.Module]]:
    """The modules that hold every named producer and consumer directly under them (a decoder's layers)."""
    names = [*pairs, *(n for group in pairs.values() for n in group)]
    found = []
    for path, module in model.named_modules():
        try:
            for name in names:
                module.get_submodule(name)
        except AttributeError:
            continue
        found.append((path, module))
    return found


@torch.no_grad()
def input_ranges(model: torch.nn.Module, pairs: dict[str, list[str]],
                 run: Callable[[], None]) -> dict[str, torch.Tensor]:
    """Largest absolute input per channel of each pair's consumers, over what ``run`` feeds the model.

    Args:
        model: The float model.
        pairs: Producer -> consumer linears, relative to each block (the spec's ``onnx_int8_smooth`` pairs).
        run: Runs the calibration rows through ``model``.

    Returns:
        ``"<block path>/<producer>" -> [in_features]`` ranges (all consumers of a producer share their input).
    """
    ranges, hooks = {}, []

    def record(key):
        def hook(_module, inputs, _output):
            x = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(0).float()
            ranges[key] = torch.maximum(ranges[key], x) if key in ranges else x
        return hook

    for path, block in _blocks(model, pairs):
        for producer, consumers in pairs.items():
            hooks.append(block.get_submodule(consumers[0]).register_forward_hook(record(f"{path}/{producer}")))
    try:
        run()
    finally:
        for hook in hooks:
            hook.remove()
    return ranges


@torch.no_grad()
def smooth(model: torch.nn.Module, smoothing: dict, ranges: dict[str, torch.Tensor]) -> int:
    """Fold the smoothing scales of ``ranges`` into ``model`` in place (the float function is unchanged).

    Args:
        model: The float model :func:`input_ranges` measured.
        smoothing: The spec's ``onnx_int8_smooth``: ``alpha`` and ``pairs``.
        ranges: From :func:`input_ranges`.

    Returns:
        How many producer/consumer groups were smoothed.
    """
    alpha, pairs, done = float(smoothing["alpha"]), smoothing["pairs"], 0
    for path, block in _blocks(model, pairs):
        for producer, consumers in pairs.items():
            x = ranges.get(f"{path}/{producer}")
            if x is None:  # a block no calibration row reached
                continue
            linears = [block.get_submodule(name) for name in consumers]
            w = torch.stack([lin.weight.abs().amax(0).float() for lin in linears]).amax(0)
            s = (x.clamp(min=1e-5) ** alpha / w.clamp(min=1e-5) ** (1 - alpha)).clamp(min=1e-5)
            source = block.get_submodule(producer)
            if isinstance(source, torch.nn.Linear):  # its output rows are the consumers' input channels
                source.weight.div_(s.to(source.weight.dtype)[:, None])
            else:  # a norm: scale (and shift) per channel
                source.weight.div_(s.to(source.weight.dtype))
            if getattr(source, "bias", None) is not None:
                source.bias.div_(s.to(source.bias.dtype))
            for lin in linears:
                lin.weight.mul_(s.to(lin.weight.dtype)[None, :])
            done += 1
    logger.info("int8 smoothing (alpha %.2f): %d groups of %s", alpha, done, ", ".join(pairs))
    return done
