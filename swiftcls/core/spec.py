"""The family spec: one small declarative description per architecture family, loaded from ``templates/*.yaml``.

A spec says how to turn a checkpoint of that family into a sequence classifier: which transformers
class holds the head, where the backbone and head live, how to pool, which modules LoRA targets by
default, and how prompts are formatted and padded. Users add a family by dropping a YAML file into
``templates/`` (or a folder named by ``SWIFTCLS_TEMPLATES``); no code change is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .errors import ConfigError

_PACKAGE_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"  # an installed package's data
# A source checkout (editable install, PYTHONPATH): the repository's templates/ beside setup.py. Only there: in an
# installed package the folder two levels up is site-packages' parent, whose 'templates' would be someone else's.
_CHECKOUT = Path(__file__).resolve().parents[2]
_REPO_TEMPLATES = _CHECKOUT / "templates" if (_CHECKOUT / "setup.py").is_file() else None


@dataclass
class ModelSpec:
    """How one architecture family becomes a sequence classifier.

    Attributes:
        name: Family name (e.g. ``qwen2``).
        model_types: ``config.model_type`` values this spec covers.
        kind: ``decoder`` (pool the last real token) or ``encoder`` (the model's own pooler).
        classifier: transformers class name of the classifier, or ``auto`` for
            ``AutoModelForSequenceClassification``.
        backbone: Attribute of the classifier holding the transformer body (decoders), or None.
        head: Attribute names of the classification head; always trained and saved with LoRA.
        pooling: ``last`` (last non-pad token, computed by swiftcls) or ``model`` (the model's forward).
        lora_target_modules: Default LoRA targets for ``--target_modules default``.
        use_chat_template: Whether prompts go through the tokenizer's chat template by default.
        pad_token_candidates: Existing tokens to use as pad token when the tokenizer has none.
        padding_side: Padding side for batches.
        chat_template_kwargs: Extra keyword arguments for ``apply_chat_template``.
        models: Hub ids of known checkpoints; their last path part is accepted as a short name.
        multimodal: Rows may carry images (prompts get vision placeholders, batches carry pixels).
        vision_tower: Module path of the vision encoder (frozen by ``--freeze_vit``, LR ``--vit_lr``).
        aligner: Module path(s) of the vision-to-text projector (frozen by ``--freeze_aligner``); a list where
            the projector has several parts (Qwen3-VL's merger and deepstack mergers).
        aliases: Extra short names -> hub id (e.g. ``Qwen2-VL-7B: Qwen/Qwen2-VL-7B-Instruct``).
        vllm_head_prefix: Prefix ``swiftcls export`` puts before the head's weight names where vLLM looks for the
            head inside a sub-module (Qwen2-VL: ``language_model.``); empty keeps ``score.weight``.
        padding_free: Packed (padding-free) batches give the same logits, loss and gradients as padded ones for
            this family (text decoders whose modeling code masks by ``position_ids``; checked by a test).
        lmdeploy_reward_arch: LMDeploy reward-model architecture ``swiftcls export --to lmdeploy`` writes
            (``Qwen2ForRewardModel``); None when LMDeploy has none for this family.
        backbone_class: transformers ``*Model`` class that swiftcls wraps with a ``score`` head when transformers
            has no ``classifier`` class (the Qwen VL families: ``Qwen2VLModel``).
        generation_class: transformers ``*ForConditionalGeneration`` class whose checkpoint key conversions the
            classifier shares, so hub checkpoints in every key format load.
        lora_exclude: Modules (a leaf name or a dotted tail such as ``mlp.shared_expert_gate``) that LoRA never
            adapts under ``--target_modules all-linear`` or ``default``: Mixture-of-Experts routers.
        image_placeholder: Text that stands for one image in a prompt (multimodal families).
        image_token: The token of ``image_placeholder`` repeated once per image token (multimodal families).
        onnx_fusion: onnxruntime transformer-optimizer model type (``bert``) that fuses this family's ``--to onnx``
            graph into Attention/SkipLayerNormalization/EmbedLayerNormalization kernels (exported with eager
            attention, the pattern the optimizer matches); None exports the graph as traced.
        onnx_int8_exclude: Linear modules (leaf names, e.g. ``down_proj``) that ``--onnx_quantize int8`` keeps in
            float32: their inputs carry activation outliers that one dynamic int8 scale per tensor cannot hold
            (a decoder MLP's down projection, after the gated product).
        onnx_int8_per_token: Linear modules whose ``--onnx_quantize int8`` products scale their input per token
            instead of per tensor: their inputs have outliers in a few tokens (a decoder MLP's down projection).
        onnx_int8_smooth: SmoothQuant-style smoothing before ``--onnx_quantize int8`` when calibration rows are
            given (:mod:`swiftcls.models.smoothing`): ``{alpha: 0.8, pairs: {input_layernorm: [self_attn.q_proj,
            ...]}}``, each producer (a norm or linear, relative to a block) mapped to every linear that reads its
            output. Empty: no smoothing.
    """

    name: str
    model_types: list[str]
    kind: str = "decoder"
    classifier: str = "auto"
    backbone: str | None = "model"
    head: list[str] = field(default_factory=lambda: ["score"])
    pooling: str = "last"
    lora_target_modules: list[str] = field(default_factory=lambda: ["all-linear"])
    use_chat_template: bool = True
    pad_token_candidates: list[str] = field(default_factory=list)
    padding_side: str = "right"
    chat_template_kwargs: dict = field(default_factory=dict)
    models: list[str] = field(default_factory=list)
    multimodal: bool = False
    vision_tower: str | None = None
    aligner: list[str] = field(default_factory=list)
    aliases: dict = field(default_factory=dict)
    vllm_head_prefix: str = ""
    padding_free: bool = False
    lmdeploy_reward_arch: str | None = None
    backbone_class: str | None = None
    generation_class: str | None = None
    lora_exclude: list[str] = field(default_factory=list)
    image_placeholder: str | None = None
    image_token: str | None = None
    onnx_fusion: str | None = None
    onnx_int8_exclude: list[str] = field(default_factory=list)
    onnx_int8_per_token: list[str] = field(default_factory=list)
    onnx_int8_smooth: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.aligner, str):
            self.aligner = [self.aligner]
        if isinstance(self.lora_exclude, str):
            self.lora_exclude = [self.lora_exclude]
        if isinstance(self.onnx_int8_exclude, str):
            self.onnx_int8_exclude = [self.onnx_int8_exclude]
        if isinstance(self.onnx_int8_per_token, str):
            self.onnx_int8_per_token = [self.onnx_int8_per_token]

    @classmethod
    def from_file(cls, path: Path) -> ModelSpec:
        """Load a spec from a YAML template, rejecting unknown keys so typos are not silently ignored."""
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{path}: unknown template keys {unknown}; allowed: {sorted(known)}")
        if data.get("kind") not in ("decoder", "encoder"):
            raise ConfigError(f"{path}: 'kind' must be 'decoder' or 'encoder', got {data.get('kind')!r}")
        if data.get("pooling", "last") not in ("last", "model"):
            raise ConfigError(f"{path}: 'pooling' must be 'last' or 'model'")
        spec = cls(**data)
        problem = spec.inconsistency()
        if problem:
            raise ConfigError(f"{path}: {problem}")
        return spec

    def inconsistency(self) -> str | None:
        """What contradicts itself in this spec (None when nothing does), with the fix."""
        packs = ((self.kind == "decoder" and self.pooling == "last")
                 or (self.kind == "encoder" and self.pooling == "model"))
        if self.padding_free and (not packs or self.multimodal):
            return ("'padding_free: true' needs a text decoder (kind: decoder, pooling: last) or an encoder whose head "
                    "reads the first token (kind: encoder, pooling: model), multimodal: false; remove it")
        if self.multimodal and not (self.image_placeholder and self.image_token):
            return ("'multimodal: true' needs 'image_placeholder' (the prompt text of one image) and 'image_token' "
                    "(the token in it that is repeated per image token)")
        if self.image_placeholder and self.image_token not in self.image_placeholder:
            return f"'image_token' {self.image_token!r} must occur in 'image_placeholder' {self.image_placeholder!r}"
        if (self.backbone_class or self.generation_class) and self.classifier == "auto":
            return "'backbone_class' and 'generation_class' need 'classifier' to name the classifier class"
        return self._smoothing_problem()

    def _smoothing_problem(self) -> str | None:
        smooth = self.onnx_int8_smooth
        if not smooth:
            return None
        pairs = smooth.get("pairs") if isinstance(smooth, dict) else None
        alpha = smooth.get("alpha") if isinstance(smooth, dict) else None
        good_pairs = isinstance(pairs, dict) and pairs and all(
            isinstance(k, str) and isinstance(v, list) and v and all(isinstance(n, str) for n in v)
            for k, v in pairs.items())
        if set(smooth) != {"alpha", "pairs"} or not isinstance(alpha, (int, float)) or not 0 < alpha < 1 \
                or not good_pairs:
            return ("'onnx_int8_smooth' must be {alpha: a number between 0 and 1, pairs: {producer module: [linear "
                    "modules reading its output], ...}}, e.g. {alpha: 0.8, pairs: {input_layernorm: "
                    "[self_attn.q_proj, self_attn.k_proj, self_attn.v_proj]}}")
        return None


def template_dirs() -> list[Path]:
    """Template folders, user folders (``SWIFTCLS_TEMPLATES``, ``:``-separated) first so they override."""
    user = [Path(p) for p in os.environ.get("SWIFTCLS_TEMPLATES", "").split(os.pathsep) if p]
    return [*user, *([_REPO_TEMPLATES] if _REPO_TEMPLATES else []), _PACKAGE_TEMPLATES]


def load_specs() -> dict[str, ModelSpec]:
    """All specs keyed by ``model_type``; the first folder that defines a model type wins."""
    specs: dict[str, ModelSpec] = {}
    for folder in template_dirs():
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            spec = ModelSpec.from_file(path)
            for model_type in spec.model_types:
                specs.setdefault(model_type, spec)
    return specs


def spec_for_config(config_or_type) -> ModelSpec:
    """The spec for a transformers config (or a ``model_type`` string)."""
    model_type = config_or_type if isinstance(config_or_type, str) else config_or_type.model_type
    specs = load_specs()
    if model_type not in specs:
        raise ConfigError(
            f"No swiftcls template for model_type '{model_type}'. Known: {sorted(specs)}. "
            f"Add one: copy templates/qwen2.yaml to templates/{model_type}.yaml and adapt it."
        )
    return specs[model_type]
