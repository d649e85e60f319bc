"""``--deepspeed zero2|zero3|zero2_offload|zero3_offload|path.json``: the config file, and the process setup DeepSpeed
needs before ``TrainingArguments`` exist.

The shipped configs (``swiftcls/config/ds_configs``) leave batch sizes, gradient clipping and precision as ``"auto"``,
so transformers fills them from the usual flags. ``zero2``/``zero3`` carry no optimizer block: Trainer's torch
AdamW (with ``--head_lr`` / ``--vit_lr`` groups) is used. The ``*_offload`` configs name DeepSpeed's AdamW,
because ZeRO-Offload needs DeepSpeed's CPU Adam to be fast (and refuses other optimizers by default).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from importlib import resources

import torch

from ..core.errors import ConfigError

logger = logging.getLogger(__name__)

SHIPPED = ("zero2", "zero3", "zero2_offload", "zero3_offload")


def resolve_deepspeed(value: str | dict | None) -> str | dict | None:
    """The DeepSpeed config for ``--deepspeed``: the file of a shipped short name, your own file, or (in Python) a
    config dict, which is used as is."""
    if not value or isinstance(value, dict):
        return value or None
    if value in SHIPPED:
        return str(resources.files("swiftcls.config") / "ds_configs" / f"{value}.json")
    if os.path.isfile(value):
        try:
            with open(value, encoding="utf-8") as f:
                zero = json.load(f).get("zero_optimization", {})
        except json.JSONDecodeError as err:
            raise ConfigError(f"--deepspeed {value}: not valid JSON (line {err.lineno}: {err.msg}).") from err
        if int(zero.get("stage", 0)) == 3 and not zero.get("stage3_gather_16bit_weights_on_model_save"):
            logger.warning("--deepspeed %s: ZeRO-3 without stage3_gather_16bit_weights_on_model_save: checkpoints "
                           "hold only ZeRO shards, which swiftcls infer/export cannot read; set it to true, or "
                           "consolidate with the zero_to_fp32.py written into each checkpoint.", value)
        return value
    raise ConfigError(f"--deepspeed {value}: neither a shipped config ({', '.join(SHIPPED)}) nor an existing "
                      "JSON file; pass one of those names or the path to a DeepSpeed config.")


def zero_stage(config: str | dict | None) -> int:
    """The ZeRO stage of a DeepSpeed config file or dict (0 when there is none)."""
    if not config:
        return 0
    if not isinstance(config, dict):
        with open(config, encoding="utf-8") as f:
            config = json.load(f)
    return int(config.get("zero_optimization", {}).get("stage", 0))


def deepspeed_on_cpu(use_cpu: bool) -> bool:
    """Whether a DeepSpeed run trains on the CPU: ``--use_cpu``, ``DS_ACCELERATOR=cpu``, or no GPU at all.

    The one decision both DeepSpeed (its accelerator, gloo) and ``TrainingArguments.use_cpu`` (the device and the
    world size that Trainer and accelerate see) follow: when they disagree, each rank counts a world of 1 and
    ZeRO-3's ``zero.Init`` fails on ``train_batch_size``.
    """
    return bool(use_cpu) or os.environ.get("DS_ACCELERATOR") == "cpu" or not torch.cuda.is_available()


def prepare_deepspeed(config: str | dict | None, use_cpu: bool) -> bool:
    """Set up what DeepSpeed needs *before* TrainingArguments and the model are created.

    On CPU (:func:`deepspeed_on_cpu`), DeepSpeed must be told to use its CPU accelerator (``DS_ACCELERATOR=cpu``,
    gloo) before it is imported. The process group is created here so that ZeRO-3's ``zero.Init`` can shard the
    weights while ``from_pretrained`` loads them: no rank ever holds the full model.

    Returns:
        The ``use_cpu`` value for ``TrainingArguments``: ``use_cpu`` itself without DeepSpeed, else whether the
        DeepSpeed run is on the CPU.
    """
    if not config:
        return use_cpu
    on_cpu = deepspeed_on_cpu(use_cpu)
    if on_cpu:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    try:
        import deepspeed  # heavy: imported only for --deepspeed runs
    except ImportError as err:
        raise ConfigError(f"--deepspeed needs the deepspeed package, which is not importable here ({err}). Install "
                          "it: pip install deepspeed (a swiftcls dependency that --no-deps installs skip).") from err

    if "WORLD_SIZE" not in os.environ:  # not under a launcher: a 1-process group (DeepSpeed would look for MPI)
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=os.environ.get("MASTER_PORT") or str(_free_port()))
    if not torch.distributed.is_initialized():
        deepspeed.init_distributed(dist_backend="gloo" if on_cpu else "nccl")
    return on_cpu


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
