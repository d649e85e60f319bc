"""The public Python API, as SWIFT's: an entry point per command with its arguments class, and ``Classifier``.

``sft_main(SftArguments(model=..., dataset=["train.jsonl"]))`` or ``sft_main(["--model", ..., "--dataset", ...])``
runs what ``swiftcls sft ...`` runs; likewise ``infer_main``, ``eval_main``, ``export_main`` and ``deploy_main``.
``Classifier.from_pretrained(folder).predict(texts)`` predicts in-process. See docs/python_api.md.
"""

from __future__ import annotations

from .commands.deploy import deploy_main
from .commands.export import export_main
from .commands.infer import eval_main, infer_main
from .commands.sft import sft_main
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
from .inference.classifier import Classifier

__all__ = ["Classifier", "ClassifierArguments", "DataArguments", "DeployArguments", "EvalArguments",
           "ExportArguments", "InferArguments", "ModelArguments", "SftArguments", "deploy_main", "eval_main",
           "export_main", "infer_main", "sft_main"]
