"""The prepared-data cache: fingerprints of data files and tokenizers, and folders of Arrow files that are only ever
seen complete.

A prepared folder (``<root>/<stage>-<key>/``) is built in a private temporary folder and renamed into place when it
is finished, so a crash never leaves a half-written cache behind, and two nodes that prepare the same data at once
on a shared file system both end up reading one complete copy. ``meta.json`` inside it lists its Arrow files.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from datasets import Dataset, concatenate_datasets

logger = logging.getLogger(__name__)

# Files of a tokenizer / processor folder whose content decides the token ids.
_TOKENIZER_FILES = ("tokenizer", "vocab", "merges", "special_tokens", "added_tokens", "chat_template", "spiece",
                    "sentencepiece", "preprocessor_config", "processor_config")


def default_root() -> str:
    """``$HF_DATASETS_CACHE/swiftcls`` (``~/.cache/huggingface/datasets/swiftcls`` by default)."""
    import datasets.config  # the datasets package reads $HF_DATASETS_CACHE / $HF_HOME, once, when imported

    return os.path.join(os.environ.get("HF_DATASETS_CACHE") or str(datasets.config.HF_DATASETS_CACHE), "swiftcls")


def digest(value) -> str:
    """A short stable hash of a JSON-able value (dict keys sorted; other objects by ``str``)."""
    text = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _stat(path: Path) -> list:
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def data_signature(specs: list[str]) -> list | None:
    """Path, size and modification time of every local file behind ``specs`` (``--dataset`` values; a ``#N`` or
    ``@split`` suffix is kept as part of the value), or None when one is not a local file or folder (a hub dataset:
    swiftcls cannot tell whether it changed, so it is never reused)."""
    out = []
    for spec in specs:
        base = spec.rpartition("#")[0] if "#" in spec else spec
        candidates = [Path(base).expanduser(), Path(base.rpartition("@")[0] or base).expanduser()]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            return None
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        out.append([spec, [_stat(p) for p in files]])
    return out


def tokenizer_signature(tokenizer) -> list | None:
    """The content hash of the tokenizer's files (vocabulary, merges, chat template, processor config), or None when
    the tokenizer does not come from a local folder."""
    folder = Path(str(getattr(tokenizer, "name_or_path", "") or ""))
    if not folder.is_dir():
        return None
    out = []
    for path in sorted(folder.iterdir()):
        if path.is_file() and (path.name.startswith(_TOKENIZER_FILES) or path.suffix == ".model"):
            out.append([path.name, hashlib.sha256(path.read_bytes()).hexdigest()])
    return [type(tokenizer).__name__, len(tokenizer), out]


class Prepared:
    """One prepared folder: ``<root>/<stage>-<key>`` when ``key`` is set (reused by later runs), else a temporary
    folder removed when the process exits (data swiftcls cannot fingerprint, or ``--load_from_cache_file false``)."""

    def __init__(self, root: str, stage: str, key: str | None):
        self.root, self.stage, self.key = root, stage, key
        self.path = os.path.join(root, f"{stage}-{key}") if key else None

    def load(self) -> dict | None:
        """The finished folder's ``meta.json`` (with ``path``), or None when there is none yet."""
        if self.path is None or not os.path.isfile(os.path.join(self.path, "meta.json")):
            return None
        meta = json.loads(Path(self.path, "meta.json").read_text(encoding="utf-8"))
        return {**meta, "path": self.path}

    def workdir(self) -> str:
        """A fresh private folder to build in (then :meth:`publish` it)."""
        os.makedirs(self.root, exist_ok=True)
        work = tempfile.mkdtemp(prefix=f".{self.stage}-", dir=self.root)
        if self.path is None:  # never reused: goes when the process ends (open memory maps stay valid on POSIX)
            atexit.register(shutil.rmtree, work, True)
        return work

    def discard(self, work: str) -> None:
        """Remove a work folder whose build failed (a bad row raised): nothing half-built stays behind."""
        shutil.rmtree(work, ignore_errors=True)

    def publish(self, work: str, meta: dict) -> dict:
        """Write ``meta.json`` into ``work`` and move it into place; if another process finished first, its folder
        is kept and ``work`` removed. Returns the meta of the folder to read (with ``path``)."""
        Path(work, "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        if self.path is None:
            return {**meta, "path": work}
        try:
            os.rename(work, self.path)
        except OSError:  # the same data finished elsewhere meanwhile: both copies are equal, keep the first
            shutil.rmtree(work, ignore_errors=True)
            return self.load() or {**meta, "path": work}
        return {**meta, "path": self.path}


def files_of(data: Dataset, work: str) -> list[str]:
    """The Arrow files of a freshly mapped dataset, relative to ``work`` (one per map process)."""
    return [os.path.relpath(f["filename"], work) for f in data.cache_files]


def open_files(folder: str, files: list[str]) -> Dataset:
    """The memory-mapped dataset made of ``files`` (relative to ``folder``), in order."""
    parts = [Dataset.from_file(os.path.join(folder, f)) for f in files]
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)
