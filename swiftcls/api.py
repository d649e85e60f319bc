"""The public Python API: :class:`Classifier` for predictions (see docs/serving.md)."""

from __future__ import annotations

from .inference.classifier import Classifier

__all__ = ["Classifier"]
