"""swiftcls: fine-tune LLMs, encoders and VLMs as sequence classifiers."""

__version__ = "0.1.0"
