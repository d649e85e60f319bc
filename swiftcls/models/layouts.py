"""Weight layouts other servers expect: the LMDeploy reward head and the head key vLLM looks for."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..core.labels import REGRESSION, SINGLE, LabelSpace
from ..core.spec import ModelSpec


def reward_refusal(spec: ModelSpec, space: LabelSpace) -> str | None:
    """Why a model (its family spec, labels) cannot take LMDeploy's reward layout, or None when it can."""
    why = "LMDeploy serves only single-scalar reward models; export with --to hf instead"
    if not spec.lmdeploy_reward_arch:
        return (f"the '{spec.name}' template names no LMDeploy reward architecture (lmdeploy_reward_arch), so LMDeploy "
                f"has no reward layout for this family. {why}.")
    if not ((space.problem_type == REGRESSION and space.num_labels == 1)
            or (space.problem_type == SINGLE and space.num_labels == 2)):
        return (f"a {space.problem_type} model with {space.num_labels} outputs has no single scalar that represents "
                f"it (only one-output regression or binary single-label models do). {why}.")
    return None


def reward_head(score: torch.nn.Linear, space: LabelSpace) -> torch.nn.Sequential:
    """``Linear(h, h) -> ReLU -> Linear(h, 1)`` (LMDeploy's reward head) that outputs the regression value or the
    binary logit margin.

    With ``z = w.x + b`` (``w = W[1] - W[0]`` for binary heads) the first layer computes ``[z, -z, 0, ...]``, the
    ReLU keeps ``[max(z, 0), max(-z, 0), 0, ...]`` and the last layer returns ``max(z, 0) - max(-z, 0) = z``.

    Args:
        score: The trained classification head (``num_labels x hidden``, bias optional).
        space: Its label space (regression with one output, or binary single-label).
    """
    weight = score.weight.detach().float()
    bias = score.bias.detach().float() if score.bias is not None else torch.zeros(weight.shape[0])
    w, b = (weight[0], bias[0]) if space.problem_type == REGRESSION else (weight[1] - weight[0], bias[1] - bias[0])
    hidden = weight.shape[1]
    first, last = torch.nn.Linear(hidden, hidden), torch.nn.Linear(hidden, 1)
    with torch.no_grad():
        for p in (*first.parameters(), *last.parameters()):
            p.zero_()
        first.weight[0], first.weight[1], first.bias[0], first.bias[1] = w, -w, b, -b
        last.weight[0, 0], last.weight[0, 1] = 1.0, -1.0
    return torch.nn.Sequential(first, torch.nn.ReLU(), last).to(score.weight.dtype)


def vllm_head_layout(folder: Path, head: str, prefix: str) -> None:
    """Store the head as ``<prefix><head>.*`` where vLLM looks for it: Qwen2/2.5-VL's seq-cls adapter wants
    ``language_model.score.weight`` (stored as ``score.weight`` it fails with "no module or parameter named
    'score'"), while Qwen3-VL's wants ``score.weight`` (``language_model.score`` fails the same way).

    swiftcls's VL classes map the prefixed key back when loading, so the export stays loadable by swiftcls too.
    """
    def rename(key: str) -> str:
        return f"{prefix}{key}" if key.split(".")[0] == head else key

    for path in sorted(folder.glob("*.safetensors")):
        tensors = load_file(path)
        if any(rename(k) != k for k in tensors):
            save_file({rename(k): v for k, v in tensors.items()}, path, metadata={"format": "pt"})
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        data = json.loads(index.read_text(encoding="utf-8"))
        data["weight_map"] = {rename(k): v for k, v in data["weight_map"].items()}
        index.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
