"""Log records swiftcls drops because they alarm without informing."""

from __future__ import annotations

import logging


def _not_cpu_fallback(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Setting accelerator to CPU.")


def quiet_deepspeed_cpu_fallback() -> None:
    """Drop DeepSpeed's "Setting accelerator to CPU. If you have GPU ... we were unable to detect it" warning.

    DeepSpeed (a dependency, which transformers imports) logs it once per process on every machine without a GPU:
    expected there, alarming to read. Other DeepSpeed records pass. Safe to call more than once.
    """
    logger = logging.getLogger("DeepSpeed")
    if _not_cpu_fallback not in logger.filters:
        logger.addFilter(_not_cpu_fallback)
