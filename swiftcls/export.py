"""``swiftcls export``: merge LoRA and write a plain, servable checkpoint (Hugging Face or LMDeploy layout).

``--to hf`` writes the model's own ``*ForSequenceClassification`` checkpoint (safetensors, labels in ``config.json``,
tokenizer, training ``args.json``, model card); ``--to lmdeploy`` rewrites a Qwen2 regression or binary head as the
``Qwen2ForRewardModel`` head. Written into a temporary folder and renamed into place. See docs/serving.md.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import torch
from transformers import AutoConfig

from . import __version__
from .arguments import ExportArguments, ModelArguments
from .data.labels import MULTI, REGRESSION, SINGLE, LabelSpace
from .errors import ConfigError
from .infer import load_trained, read_args_json
from .model import set_pad_token_id
from .registry import read_model_type, resolve_model

_ACTIVATION = {SINGLE: ".softmax(-1)", MULTI: ".sigmoid()", REGRESSION: ""}


def _reward_refusal(model_type: str, space: LabelSpace) -> str | None:
    """Why a model (``config.model_type``, labels) cannot take LMDeploy's reward layout, or None when it can."""
    why = "LMDeploy serves only single-scalar reward models (Qwen2ForRewardModel); export with --to hf instead"
    if model_type != "qwen2":
        return f"model_type '{model_type}' is not the Qwen2 family. {why}."
    if not ((space.problem_type == REGRESSION and space.num_labels == 1)
            or (space.problem_type == SINGLE and space.num_labels == 2)):
        return (f"a {space.problem_type} model with {space.num_labels} outputs has no single scalar that represents "
                f"it (only one-output regression or binary single-label models do). {why}.")
    return None


def reward_head(score: torch.nn.Linear, space: LabelSpace) -> torch.nn.Sequential:
    """``Linear(h, h) -> ReLU -> Linear(h, 1)`` that outputs the regression value or the binary logit margin.

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


def _peek(model_args: ModelArguments, export_args: ExportArguments) -> tuple[str, LabelSpace] | None:
    """Model type and labels from args.json / config.json, before any weights are loaded (fail fast)."""
    payload = read_args_json(export_args.adapters or model_args.model)
    if export_args.adapters:
        base = model_args.model or payload.get("model_dir") or payload.get("model")
        if not (base and payload.get("label_names") and payload.get("problem_type")):
            return None  # load_trained reports what is missing
        return (read_model_type(resolve_model(base, model_args.use_hf, model_args.model_revision)),
                LabelSpace(payload["problem_type"], payload["label_names"]))
    config = AutoConfig.from_pretrained(resolve_model(model_args.model, model_args.use_hf, model_args.model_revision),
                                        trust_remote_code=model_args.trust_remote_code)
    return config.model_type, LabelSpace.from_config(config)


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
    reason = export_args.to == "lmdeploy" and peek and _reward_refusal(*peek)
    if reason:
        raise ConfigError(f"--to lmdeploy: {reason}")
    return out


def vllm_head_layout(folder: Path, head: str, prefix: str) -> None:
    """Store the head as ``<prefix><head>.*`` where vLLM looks for it: Qwen2/2.5-VL's seq-cls adapter wants
    ``language_model.score.weight`` (stored as ``score.weight`` it fails with "no module or parameter named
    'score'"), while Qwen3-VL's wants ``score.weight`` (``language_model.score`` fails the same way).

    swiftcls's VL classes map the prefixed key back when loading, so the export stays loadable by swiftcls too.
    """
    from safetensors.torch import load_file, save_file

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


def _metrics(source: str) -> tuple[dict, str | None]:
    """Scalar eval metrics of the run the checkpoint comes from, and a note when they belong to another one."""
    folder = Path(source)
    path, summary = folder.parent / "eval_metrics.json", folder.parent / "summary.json"
    if not path.is_file():
        return {}, None
    scalars = {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items()
               if isinstance(v, (int, float)) and not isinstance(v, bool)}
    best = json.loads(summary.read_text(encoding="utf-8")).get("best_model_checkpoint") if summary.is_file() else None
    return scalars, (f"Measured on {Path(best).name}, not on {folder.name}." if best and Path(best).name != folder.name
                     else None)


_HF_USAGE = """{note} The prompt settings are in `args.json`.

```python
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{path}")
model = AutoModelForSequenceClassification.from_pretrained("{path}").eval()
texts = ["first text", "second text"]
{prompt}
with torch.no_grad():
    scores = model(**batch).logits{activation}
```

swiftcls formats prompts from `args.json` itself: `swiftcls infer --model {path} --dataset data.jsonl`, or in
Python `from swiftcls import Classifier; Classifier.from_pretrained("{path}").predict(["first text"])`.

vLLM (pooling runner; pass the formatted `{inputs}`): `vllm serve {path} --runner pooling`, or
`LLM(model="{path}", runner="pooling").classify({inputs})`; `swiftcls infer --model {path} --infer_backend vllm`
formats them for you. HTTP without vLLM: `swiftcls deploy --model {path}` (same `/classify` format, raw text in).
"""

_REWARD_USAGE = """This folder uses LMDeploy's `Qwen2ForRewardModel` layout (PyTorch engine, GPU). The score is
{meaning}. transformers cannot load it as a classifier; export with `--to hf` for that.

```python
from lmdeploy import PytorchEngineConfig, pipeline
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{path}")
pipe = pipeline("{path}", backend_config=PytorchEngineConfig())
# prompts formatted exactly as in training (chat template settings in args.json)
scores = pipe.get_reward_score([tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts])
```
"""


def _usage(path: str, space: LabelSpace, payload: dict, chat_kwargs: dict) -> str:
    """transformers / swiftcls / vLLM snippets that format prompts exactly like training."""
    chat, system = payload.get("chat_template_applied"), payload.get("system")
    if chat:
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": "TEXT"}]
        messages = json.dumps(msgs, ensure_ascii=False).replace('"TEXT"', "t")
        kwargs = "".join(f", {k}={v!r}" for k, v in chat_kwargs.items())
        prompt = (f"prompts = [tokenizer.apply_chat_template({messages}, tokenize=False, add_generation_prompt=True"
                  f"{kwargs})\n           for t in texts]\n"
                  'batch = tokenizer(prompts, padding=True, add_special_tokens=False, return_tensors="pt")')
        note = ("Prompts must be formatted as in training: the text (a pair joined by a newline) is the user turn of "
                "the chat template" + (", after the system prompt," if system else "") + " with the generation prompt.")
    else:
        prompt = (f"batch = tokenizer(texts, padding=True, truncation=True, max_length={payload.get('max_length', 512)}"
                  ', return_tensors="pt")')
        note = "Prompts are the raw text (pairs: `tokenizer(texts, pairs, ...)`), no chat template, as in training."
    return _HF_USAGE.format(note=note, path=path, prompt=prompt, activation=_ACTIVATION[space.problem_type],
                            inputs="prompts" if chat else "texts")


def model_card(path: str, space: LabelSpace, payload: dict, source: str, chat_kwargs: dict, reward: bool) -> str:
    """README.md of an exported checkpoint: labels, training, metrics and how to load and serve it."""
    base = payload.get("model") or payload.get("model_dir") or source
    hub = base.count("/") == 1 and not os.path.exists(base)
    lines = ["---", "library_name: transformers", "pipeline_tag: text-classification", "tags: [swiftcls, seq-cls]",
             *([f"base_model: {base}"] if hub else []), "---", "", f"# {Path(path).name}", "",
             f"A {space.problem_type.replace('_', ' ')} model fine-tuned with swiftcls {__version__} from `{base}` "
             f"({payload.get('tuner_type', 'unknown')} fine-tuning; exported from `{source}`).", "",
             "| id | label |", "|---|---|", *(f"| {i} | {name} |" for i, name in enumerate(space.names)), ""]
    if space.problem_type == MULTI:
        lines += [f"Multi-label: a label is predicted when its sigmoid probability is >= "
                  f"{payload.get('threshold', 0.5)} (the training threshold).", ""]
    if payload.get("dataset"):
        lines += [f"Training data: {', '.join(f'`{d}`' for d in payload['dataset'])}.", ""]
    metrics, note = _metrics(source)
    if metrics:
        lines += ["## Evaluation", "", "| metric | value |", "|---|---|",
                  *(f"| {k} | {v:.4f} |" for k, v in metrics.items()), "", *([note, ""] if note else [])]
    meaning = ("the regression value" if space.problem_type == REGRESSION else f"the logit margin logit("
               f"{space.names[1]}) - logit({space.names[0]}), so P({space.names[1]}) = sigmoid(score)")
    lines += ["## Use", "", _REWARD_USAGE.format(path=path, meaning=meaning) if reward
              else _usage(path, space, payload, chat_kwargs)]
    return "\n".join(lines)


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
            saved["architectures"] = ["Qwen2ForRewardModel"]
            saved["swiftcls_reward"] = {"problem_type": space.problem_type, "labels": space.names,
                                        "score": "value" if space.problem_type == REGRESSION else "logit margin"}
        config_path.write_text(json.dumps(saved, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        args = {**(payload or {"problem_type": space.problem_type, "label_names": space.names}),
                "export": {"source": os.path.abspath(source), "to": export_args.to, "lora_merged":
                           bool(export_args.adapters), "swiftcls_version": __version__}}
        (tmp / "args.json").write_text(json.dumps(args, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        card = model_card(str(out), space, payload, source, spec.chat_template_kwargs, reward)
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
