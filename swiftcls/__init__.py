"""swiftcls: fine-tune LLMs, encoders and VLMs as sequence classifiers."""

__version__ = "0.1.0"
__all__ = ["Classifier", "__version__"]


def __getattr__(name: str):
    """Import heavy public objects on first use, so ``import swiftcls`` stays light (no torch/transformers)."""
    if name == "Classifier":
        from .api import Classifier

        return Classifier
    raise AttributeError(f"module 'swiftcls' has no attribute {name!r}")
