"""The swiftcls version (written into args.json, exports and model cards)."""

__version__ = "0.1.0"
