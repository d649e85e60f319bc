"""``swiftcls export``: merge LoRA and write a plain, servable checkpoint (Hugging Face or LMDeploy layout).

``--to hf`` writes the model's own ``*ForSequenceClassification`` checkpoint (safetensors, labels in ``config.json``,
tokenizer, training ``args.json``, model card); ``--to lmdeploy`` rewrites a regression or binary head as the reward
head of the LMDeploy architecture the family's template names (``lmdeploy_reward_arch``, e.g. ``Qwen2ForRewardModel``).
Written into a temporary folder and renamed into place. See docs/serving.md.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from transformers import AutoConfig

from ..config.arguments import ExportArguments, ModelArguments
from ..core.errors import ConfigError
from ..core.labels import REGRESSION, LabelSpace
from ..core.spec import ModelSpec, spec_for_config
from ..core.version import __version__
from ..models.card import model_card
from ..models.layouts import reward_head, reward_refusal, vllm_head_layout
from ..models.loading import set_pad_token_id
from ..models.registry import read_model_type, resolve_model
from ..models.trained import load_trained, read_args_json


def _peek(model_args: ModelArguments, export_args: ExportArguments) -> tuple[ModelSpec, LabelSpace] | None:
    """Family spec and labels from args.json / config.json, before any weights are loaded (fail fast)."""
    payload = read_args_json(export_args.adapters or model_args.model)
    if export_args.adapters:
        base = model_args.model or payload.get("model_dir") or payload.get("model")
        if not (base and payload.get("label_names") and payload.get("problem_type")):
            return None  # load_trained reports what is missing
        return (spec_for_config(read_model_type(resolve_model(base, model_args.use_hf, model_args.model_revision))),
                LabelSpace(payload["problem_type"], payload["label_names"]))
    config = AutoConfig.from_pretrained(resolve_model(model_args.model, model_args.use_hf, model_args.model_revision),
                                        trust_remote_code=model_args.trust_remote_code)
    return spec_for_config(config), LabelSpace.from_config(config)


def _check(model_args: ModelArguments, export_args: ExportArguments) -> Path:
    if not export_args.output_dir:
        raise ConfigError("--output_dir is required: the folder to write the exported checkpoint to.")
    if not (model_args.model or export_args.adapters):
        raise ConfigError("pass --adapters (a LoRA checkpoint) or --model (a full checkpoint) to export.")
    if export_args.adapters and not export_args.merge_lora:
        raise ConfigError("--merge_lora false: the adapter checkpoint already is the unmerged artifact; a plain "
                          "checkpoint that vLLM/LMDeploy/transformers load needs --merge_lora true.")
    out = Path(export_args.output_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--output_dir {out} already exists and is not empty; swiftcls export never overwrites. "
                          "Choose a new folder or remove the old one.")
    peek = _peek(model_args, export_args)
    reason = export_args.to == "lmdeploy" and peek and reward_refusal(*peek)
    if reason:
        raise ConfigError(f"--to lmdeploy: {reason}")
    return out


def run_export(model_args: ModelArguments, export_args: ExportArguments, extra: dict | None = None) -> str:
    """Export a LoRA or full checkpoint as a plain checkpoint in ``--output_dir``.

    Args:
        model_args: ``--model`` (full checkpoint, or the base model of ``--adapters``) and dtype settings; the
            weights keep the loaded dtype (float32 unless ``--torch_dtype`` says otherwise).
        export_args: ``--adapters``, ``--output_dir``, ``--merge_lora``, ``--to``.
        extra: Unused (the CLI passes leftover flags here).

    Returns:
        The output folder.

    Raises:
        ConfigError: Missing flags, an existing non-empty output folder, or a model ``--to lmdeploy`` cannot hold.
    """
    out = _check(model_args, export_args)
    source = export_args.adapters or model_args.model
    model, tokenizer, spec, space, payload = load_trained(model_args.model, export_args.adapters, model_args, "cpu")
    model = (model.merge_and_unload() if export_args.adapters else model).eval()
    reward, config = export_args.to == "lmdeploy", model.config
    config.problem_type = space.problem_type
    set_pad_token_id(config, tokenizer.pad_token_id)
    config.id2label, config.label2id = space.id2label, space.label2id  # num_labels is len(id2label)
    if reward:
        setattr(model, spec.head[0], reward_head(getattr(model, spec.head[0]), space))
        config.problem_type = REGRESSION
        config.id2label, config.label2id = {0: "reward"}, {"reward": 0}
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"  # hidden, never mistaken for an export
    tmp.mkdir(parents=True)
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if spec.multimodal:
            tokenizer.image_processor.save_pretrained(tmp)
        if spec.vllm_head_prefix:
            vllm_head_layout(tmp, spec.head[0], spec.vllm_head_prefix)
        config_path = tmp / "config.json"
        saved = json.loads(config_path.read_text(encoding="utf-8"))
        saved.update(num_labels=config.num_labels, problem_type=config.problem_type, pad_token_id=config.pad_token_id)
        if reward:
            saved["architectures"] = [spec.lmdeploy_reward_arch]
            saved["swiftcls_reward"] = {"problem_type": space.problem_type, "labels": space.names,
                                        "score": "value" if space.problem_type == REGRESSION else "logit margin"}
        config_path.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        args = {**(payload or {"problem_type": space.problem_type, "label_names": space.names}),
                "export": {"source": os.path.abspath(source), "to": export_args.to, "lora_merged":
                           bool(export_args.adapters), "swiftcls_version": __version__}}
        (tmp / "args.json").write_text(json.dumps(args, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        card = model_card(str(out), space, payload, source, spec.chat_template_kwargs,
                          spec.lmdeploy_reward_arch if reward else None)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        try:
            os.replace(tmp, out)
        except OSError as err:
            raise ConfigError(f"--output_dir {out}: could not move the export into place ({err}).") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"Exported {source} ({space.problem_type}, {space.num_labels} labels, --to {export_args.to}) to {out}")
    return str(out)
