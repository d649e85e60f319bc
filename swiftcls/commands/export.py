"""``swiftcls export``: merge LoRA and write a plain, servable checkpoint (Hugging Face, LMDeploy or ONNX layout).

``--to hf`` writes the model's own ``*ForSequenceClassification`` checkpoint (safetensors, labels in ``config.json``,
tokenizer, training ``args.json``, model card); ``--to lmdeploy`` rewrites a regression or binary head as the reward
head of the LMDeploy architecture the family's template names (``lmdeploy_reward_arch``, e.g. ``Qwen2ForRewardModel``);
``--to onnx`` writes ``model.onnx`` (optionally int8) for onnxruntime, see :mod:`swiftcls.models.onnx`.
A one-output decoder's ``--to hf`` export also carries ``score_template.jinja``, the ``--chat-template`` that makes
vLLM's ``/score`` and ``/rerank`` build swiftcls's (query, document) prompt.
Written into a temporary folder and renamed into place. See docs/serving.md.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from transformers import AutoConfig

from ..config.export import ExportArguments
from ..config.parser import to_arguments
from ..core.decisions import CALIBRATION_KEY, THRESHOLDS_KEY
from ..core.errors import ConfigError
from ..core.files import normal_file_modes
from ..core.labels import REGRESSION, LabelSpace
from ..core.spec import ModelSpec, spec_for_config
from ..core.version import __version__
from ..inference.prompts import SCORE_TEMPLATE, score_template, training_encoder
from ..models.card import model_card
from ..models.layouts import reward_head, reward_refusal, vllm_head_layout
from ..models.loading import set_pad_token_id
from ..models.onnx import export_onnx
from ..models.registry import read_model_type, resolve_model
from ..models.trained import load_trained, read_args_json
from .int8_calibration import smooth_for_int8


def _peek(args: ExportArguments) -> tuple[ModelSpec, LabelSpace] | None:
    """Family spec and labels from args.json / config.json, before any weights are loaded (fail fast)."""
    payload = read_args_json(args.adapters or args.model)
    if args.adapters:
        base = args.model or payload.get("model_dir") or payload.get("model")
        if not (base and payload.get("label_names") and payload.get("problem_type")):
            return None  # load_trained reports what is missing
        return (spec_for_config(read_model_type(resolve_model(base, args.use_hf, args.model_revision))),
                LabelSpace(payload["problem_type"], payload["label_names"]))
    config = AutoConfig.from_pretrained(resolve_model(args.model, args.use_hf, args.model_revision),
                                        trust_remote_code=args.trust_remote_code)
    return spec_for_config(config), LabelSpace.from_config(config)


def _check(args: ExportArguments) -> Path:
    out = Path(args.output_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--output_dir {out} already exists and is not empty; swiftcls export never overwrites. "
                          "Choose a new folder or remove the old one.")
    peek = _peek(args)
    reason = args.to == "lmdeploy" and peek and reward_refusal(*peek)
    if reason:
        raise ConfigError(f"--to lmdeploy: {reason}")
    if args.to == "onnx" and peek and peek[0].multimodal:
        raise ConfigError("--to onnx covers text models; export image+text models with --to hf (vLLM serves them).")
    return out


def export_main(args: ExportArguments | Sequence[str] | dict | None = None) -> str:
    """Export a LoRA or full checkpoint as a plain checkpoint in ``--output_dir`` (``swiftcls export``).

    Args:
        args: An :class:`ExportArguments` (``--model``: the full checkpoint or the base model of ``--adapters``;
            the weights keep the loaded dtype, float32 unless ``--torch_dtype`` says otherwise), the command-line
            flags, or a dict of option values.

    Returns:
        The output folder.

    Raises:
        ConfigError: Missing flags, an existing non-empty output folder, or a model ``--to lmdeploy`` cannot hold.
    """
    args = to_arguments(ExportArguments, args, "swiftcls export")
    out = _check(args)
    source = args.adapters or args.model
    model, tokenizer, spec, space, payload = load_trained(args.model, args.adapters, args, args.device or "cpu")
    model = (model.merge_and_unload() if args.adapters else model).eval()
    reward, config = args.to == "lmdeploy", model.config
    config.problem_type = space.problem_type
    set_pad_token_id(config, tokenizer.pad_token_id)
    config.id2label, config.label2id = space.id2label, space.label2id  # num_labels is len(id2label)
    # load_trained folded any calibration temperature into the head and put both decision fields on the config,
    # so save_pretrained writes them into config.json; args.json keeps the training options only.
    decided = {key: getattr(config, key) for key in (THRESHOLDS_KEY, CALIBRATION_KEY) if hasattr(config, key)}
    if reward:
        for key in decided:  # keyed by the classifier's labels, which the reward layout replaces
            delattr(config, key)
        setattr(model, spec.head[0], reward_head(getattr(model, spec.head[0]), space))
        config.problem_type = REGRESSION
        config.id2label, config.label2id = {0: "reward"}, {"reward": 0}
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"  # hidden, never mistaken for an export
    tmp.mkdir(parents=True)
    onnx = None
    try:
        if args.to == "onnx":
            config.save_pretrained(tmp)  # labels and problem type; the weights live in the graph
            quantize = None if args.onnx_quantize == "none" else args.onnx_quantize
            smoothed = smooth_for_int8(model, tokenizer, spec, space, payload or {}, args) if quantize else None
            path = export_onnx(model, tokenizer, tmp, quantize, spec.onnx_fusion, spec.onnx_int8_exclude,
                               spec.onnx_int8_per_token)
            onnx = {"file": path.name, "quantize": args.onnx_quantize, "inputs": _graph_inputs(path),
                    **({"smoothing": smoothed} if smoothed else {})}
        else:
            model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if spec.multimodal:
            tokenizer.image_processor.save_pretrained(tmp)
        if spec.vllm_head_prefix and not onnx:
            vllm_head_layout(tmp, spec.head[0], spec.vllm_head_prefix)
        config_path = tmp / "config.json"
        saved = json.loads(config_path.read_text(encoding="utf-8"))
        saved.update(num_labels=config.num_labels, problem_type=config.problem_type, pad_token_id=config.pad_token_id)
        if reward:
            saved["architectures"] = [spec.lmdeploy_reward_arch]
            saved["swiftcls_reward"] = {"problem_type": space.problem_type, "labels": space.names,
                                        "score": "value" if space.problem_type == REGRESSION else "logit margin"}
        if onnx:
            saved["swiftcls_onnx"] = onnx
        config_path.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        trained = {k: v for k, v in (payload or {}).items() if k not in (THRESHOLDS_KEY, CALIBRATION_KEY)}
        saved_args = {**(trained or {"problem_type": space.problem_type, "label_names": space.names}),
                      "export": {"source": os.path.abspath(source), "to": args.to, "lora_merged": bool(args.adapters),
                                 "swiftcls_version": __version__}}
        (tmp / "args.json").write_text(json.dumps(saved_args, indent=2, ensure_ascii=False, default=str),
                                       encoding="utf-8")
        encoder = training_encoder(tokenizer, spec, payload or {})  # the prompts of training, for card and template
        card_fields = {**trained, **({} if reward else decided), "system_turn": encoder.system_turn}
        card = model_card(str(out), space, card_fields, source, spec.chat_template_kwargs,
                          spec.lmdeploy_reward_arch if reward else None, onnx)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        template = score_template(encoder) if (
            space.num_labels == 1 and not reward and not onnx) else None
        if template:  # vLLM's /score and /rerank build swiftcls's pair prompt with it (--chat-template)
            (tmp / SCORE_TEMPLATE).write_text(template + "\n", encoding="utf-8")
        normal_file_modes(tmp)  # safetensors writes 0600
        try:
            os.replace(tmp, out)
        except OSError as err:
            raise ConfigError(f"--output_dir {out}: could not move the export into place ({err}).") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"Exported {source} ({space.problem_type}, {space.num_labels} labels, --to {args.to}) to {out}")
    return str(out)


def _graph_inputs(path: Path) -> list[str]:
    """Input names of an ONNX graph (``input_ids``, ``attention_mask``, maybe ``token_type_ids``)."""
    import onnx  # optional; export_onnx already checked it imports

    return [i.name for i in onnx.load(str(path), load_external_data=False).graph.input]
