"""swiftcls: fine-tune LLMs, encoders and VLMs as sequence classifiers."""

from .core.version import __version__

__all__ = ["Classifier", "__version__"]


def __getattr__(name: str):
    """Import heavy public objects on first use, so ``import swiftcls`` stays light (no torch/transformers)."""
    if name == "Classifier":
        from .inference.classifier import Classifier

        return Classifier
    raise AttributeError(f"module 'swiftcls' has no attribute {name!r}")
