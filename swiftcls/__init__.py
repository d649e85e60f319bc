"""swiftcls: fine-tune LLMs, encoders and VLMs as sequence classifiers.

The public API (``sft_main``, ``infer_main``, ``eval_main``, ``export_main``, ``deploy_main``, their arguments
classes and ``Classifier``) lives in :mod:`swiftcls.api` and is importable from here; it is loaded on first use, so
``import swiftcls`` stays light (no torch/transformers).
"""

from .core.version import __version__

_PUBLIC = ("Classifier", "ClassifierArguments", "DataArguments", "DeployArguments", "EvalArguments",
           "ExportArguments", "InferArguments", "ModelArguments", "SftArguments", "deploy_main", "eval_main",
           "export_main", "infer_main", "sft_main")
__all__ = [*_PUBLIC, "__version__"]


def __getattr__(name: str):
    if name in _PUBLIC:
        from . import api  # heavy (torch, transformers): only when a public object is first used

        return getattr(api, name)
    raise AttributeError(f"module 'swiftcls' has no attribute {name!r}")
