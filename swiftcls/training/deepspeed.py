"""DeepSpeed ZeRO during training: how the parameters are partitioned (config: swiftcls/config/deepspeed.py)."""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)


def log_partitioning(model) -> dict:
    """Under ZeRO-3, log how many parameter elements this rank holds versus the model's total.

    Returns:
        ``{"local": n, "total": m, "partitioned": k}`` (elements held here, in the full model, and the
        number of partitioned tensors).
    """
    local = total = partitioned = 0
    for param in model.parameters():
        if hasattr(param, "ds_numel"):
            partitioned += 1
            total += param.ds_numel
            local += param.ds_tensor.numel()
        else:
            total += param.numel()
            local += param.numel()
    stats = {"local": local, "total": total, "partitioned": partitioned}
    if partitioned:
        logger.info("ZeRO-3 rank %s holds %d of %d parameter elements (%d tensors partitioned).",
                    os.environ.get("RANK", "0"), local, total, partitioned)
    return stats
