"""The public Python API, as SWIFT's: an entry point per command with its arguments class, and ``Classifier``.

``sft_main(SftArguments(model=..., dataset=["train.jsonl"]))`` or ``sft_main(["--model", ..., "--dataset", ...])``
runs what ``swiftcls sft ...`` runs; likewise ``infer_main``, ``eval_main``, ``export_main`` and ``deploy_main``.
``Classifier.from_pretrained(folder).predict(texts)`` predicts in-process. See docs/python_api.md.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from .commands import deploy, export, infer, sft
from .config import (
    ClassifierArguments,
    DataArguments,
    DeployArguments,
    EvalArguments,
    ExportArguments,
    InferArguments,
    ModelArguments,
    SftArguments,
)
from .core.errors import SwiftClsError
from .core.flags import in_python_words
from .core.quiet import quiet_deepspeed_cpu_fallback
from .inference.classifier import Classifier

quiet_deepspeed_cpu_fallback()  # before transformers first imports DeepSpeed, as the command line does


def _python_entry(entry: Callable, cls: type) -> Callable:
    """``entry`` whose errors speak of arguments (``model='x'``), not flags (``--model x``), when it is given an
    arguments instance or a dict; given a list of flags it speaks in flags, as the command line does."""

    @functools.wraps(entry)
    def run(args=None):
        try:
            return entry(args)
        except SwiftClsError as err:
            if isinstance(args, cls):
                in_python_words(err, {f.name: getattr(args, f.name) for f in dataclasses.fields(args)})
            elif isinstance(args, dict):
                in_python_words(err, args)
            raise

    return run


sft_main = _python_entry(sft.sft_main, SftArguments)
infer_main = _python_entry(infer.infer_main, InferArguments)
eval_main = _python_entry(infer.eval_main, EvalArguments)
export_main = _python_entry(export.export_main, ExportArguments)
deploy_main = _python_entry(deploy.deploy_main, DeployArguments)

__all__ = ["Classifier", "ClassifierArguments", "DataArguments", "DeployArguments", "EvalArguments",
           "ExportArguments", "InferArguments", "ModelArguments", "SftArguments", "deploy_main", "eval_main",
           "export_main", "infer_main", "sft_main"]
