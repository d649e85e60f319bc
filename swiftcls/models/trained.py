"""Load a classifier swiftcls trained: an exported folder, a full checkpoint, or a LoRA checkpoint on its base model."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoConfig

from ..config.model import ModelArguments
from ..core.decisions import CALIBRATION_KEY, THRESHOLDS_KEY, read_decisions
from ..core.errors import ConfigError
from ..core.labels import LabelSpace
from ..core.spec import spec_for_config
from .calibrated import apply_decisions
from .loading import load_classifier, load_tokenizer
from .onnx import load_onnx
from .registry import read_model_type, resolve_model
from .tuners import load_adapters


def read_args_json(folder: str | None) -> dict:
    """``args.json`` of a swiftcls checkpoint (or its run folder); empty for foreign checkpoints."""
    for candidate in (Path(folder), Path(folder).parent) if folder else ():
        if (candidate / "args.json").is_file():
            return json.loads((candidate / "args.json").read_text(encoding="utf-8"))
    return {}


def load_trained(model: str | None, adapters: str | None, model_args: ModelArguments, device: str | None = None):
    """Load a trained classifier for prediction.

    Args:
        model: Full checkpoint folder (or the base model when ``adapters`` is given).
        adapters: LoRA checkpoint folder; its base model is read from ``args.json`` when ``model`` is None.
        model_args: dtype / attention / trust_remote_code settings.
        device: Target device.

    Returns:
        ``(model, tokenizer, spec, label_space, training_args_dict)``; the dict also holds the checkpoint's tuned
        ``swiftcls_thresholds``. A calibration temperature the checkpoint carries is folded into the returned
        model's head (:mod:`swiftcls.models.calibrated`), so its logits are the calibrated ones, as an export's.
    """
    payload = read_args_json(adapters or model)
    if adapters:
        base = model or payload.get("model_dir") or payload.get("model")
        if not base or not payload.get("label_names"):
            raise ConfigError(f"--adapters {adapters}: no args.json with the base model and labels; pass --model "
                              "and make sure the checkpoint was written by swiftcls sft.")
        model_dir = resolve_model(base, model_args.use_hf, model_args.model_revision)
        space = LabelSpace(payload["problem_type"], payload["label_names"])
    elif model:
        model_dir = resolve_model(model, model_args.use_hf, model_args.model_revision)
        space = LabelSpace.from_config(AutoConfig.from_pretrained(
            model_dir, trust_remote_code=model_args.trust_remote_code))
    else:
        raise ConfigError("pass --model (a trained checkpoint) or --adapters (a LoRA checkpoint).")
    spec = spec_for_config(read_model_type(model_dir))
    # A LoRA checkpoint has no config.json: its decisions are in its own args.json (never the run folder's).
    source = Path(adapters) / "args.json" if adapters else Path(model_dir) / "config.json"
    fields = _json(source)
    decisions = read_decisions(fields, space.names, str(source))
    if decisions.thresholds is not None:
        payload = {**payload, THRESHOLDS_KEY: decisions.thresholds}
    if getattr(model_args, "infer_backend", "pt") == "onnxruntime":  # an export: any temperature is in the graph
        return _load_onnx(model, adapters, model_dir, spec, space, model_args, payload)
    net, tokenizer, new = load_classifier(model_dir, spec, space, torch_dtype=model_args.torch_dtype,
                                          attn_impl=model_args.attn_impl,
                                          trust_remote_code=model_args.trust_remote_code, device=device,
                                          task=payload.get("task"))
    untrained = [m for m in new if m.split(".")[-1] in spec.head or m in spec.head]
    if untrained and not adapters:
        # Predicting with a random head would look like it works; refuse instead.
        raise ConfigError(f"--model {model}: the checkpoint has no trained classification head ({untrained} missing). "
                          "Pass a checkpoint written by swiftcls sft/export (for LoRA runs use --adapters); an "
                          "LMDeploy reward export is for LMDeploy only.")
    if adapters:
        net = load_adapters(net, adapters)
    apply_decisions(net, spec, decisions, fields.get(CALIBRATION_KEY))
    return net.eval(), tokenizer, spec, space, payload


def _load_onnx(model: str | None, adapters: str | None, model_dir: str, spec, space, model_args, payload: dict):
    """``load_trained`` for ``--infer_backend onnxruntime``: a folder written by ``swiftcls export --to onnx``."""
    if adapters:
        raise ConfigError(f"--infer_backend onnxruntime needs an ONNX export, and --adapters {adapters} is a LoRA "
                          f"checkpoint. Export it first: swiftcls export --adapters {adapters} --to onnx "
                          "--output_dir DIR, then pass --model DIR.")
    if spec.multimodal:
        raise ConfigError(f"--infer_backend onnxruntime: {model} is an image+text model; the ONNX path covers "
                          "text models. Use --infer_backend pt (or vllm).")
    config = AutoConfig.from_pretrained(model_dir, trust_remote_code=model_args.trust_remote_code)
    tokenizer = load_tokenizer(model_dir, spec, model_args.trust_remote_code)
    return load_onnx(model_dir, config), tokenizer, spec, space, payload


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
