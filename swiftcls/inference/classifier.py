"""``Classifier.from_pretrained(DIR).predict(["text", ...])``: a trained classifier in Python.

Prompts are formatted with the settings saved at training time (``args.json``: chat template, system prompt,
max length, truncation side), exactly as ``swiftcls infer`` does, so predictions match the CLI.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config.model import ClassifierArguments
from ..config.parser import from_dict
from ..core.decisions import thresholds_for
from ..core.errors import ConfigError, SwiftClsError
from ..core.flags import in_python_words
from ..core.labels import REGRESSION
from ..data.collators import make_collator
from ..data.dataset import Example
from ..metrics.classification import logits_to_probs
from ..models.packing import known_attn, use_padding_free
from ..models.trained import load_trained
from .predict import predict_logits, prediction
from .prompts import training_encoder


class Classifier:
    """A trained swiftcls classifier (exported folder, full checkpoint, or LoRA checkpoint) ready to predict.

    Attributes:
        labels: Label names in id order (``["score"]`` for one-output regression).
        problem_type: ``single_label_classification``, ``multi_label_classification`` or ``regression``.
        thresholds: Multi-label probability threshold per label name: tuned on validation at training (or by
            ``swiftcls eval --save_thresholds``), else the training ``--threshold``; may be changed.
        threshold: Setting it sets every label's threshold to that value (reading it gives the training one).
        model: The underlying transformers model.
        tokenizer: Its tokenizer.
        device: Where the model runs.
    """

    def __init__(self, model, tokenizer, spec, space, train: dict, device: str, padding_free: bool = True,
                 attn_impl: str | None = None):
        self.model, self.tokenizer, self.spec, self.space, self.device = model, tokenizer, spec, space, device
        self.labels, self.problem_type = list(space.names), space.problem_type
        self._default_threshold = float(train.get("threshold", 0.5))
        self.thresholds = dict(zip(self.labels, thresholds_for(train, self.labels)))
        self.encoder = training_encoder(tokenizer, spec, train)
        # Same batching as `swiftcls infer`: packed rows (no pad tokens) where the model supports it.
        packed = use_padding_free(padding_free, spec, model, attn_impl, device)
        self.collator = make_collator(packed, tokenizer.pad_token_id, spec.padding_side, self.encoder.image_processor)

    @classmethod
    def from_pretrained(cls, path: str | None = None, adapters: str | None = None, device: str | None = None,
                        torch_dtype: str = "auto", padding_free: bool = True, **options) -> Classifier:
        """Load a classifier.

        Args:
            path: An exported folder or full checkpoint; with ``adapters``, the base model (default: the one in
                the adapter's ``args.json``).
            adapters: A LoRA checkpoint written by ``swiftcls sft``.
            device: ``cpu``, ``cuda``, ``cuda:1``, ... (default: cuda when available).
            torch_dtype: ``auto`` (bf16 on GPUs that support it, else float32), ``float32``, ``bfloat16``, ``float16``.
            padding_free: Pack each batch's rows without pad tokens where the model supports it (text decoders);
                False pads length-sorted batches.
            **options: Any other :class:`~swiftcls.config.model.ClassifierArguments` option, e.g. ``threshold``,
                ``attn_impl``, ``trust_remote_code``, ``model_revision``.

        Returns:
            The loaded ``Classifier``.
        """
        values = {"model": path, "adapters": adapters, "device": device, "torch_dtype": torch_dtype,
                  "padding_free": padding_free, **options}
        try:
            return cls.from_args(from_dict(ClassifierArguments, values))
        except SwiftClsError as err:  # a Python caller passed path=..., not --model
            in_python_words(err, values, {"model": "path"})
            raise

    @classmethod
    def from_args(cls, args: ClassifierArguments) -> Classifier:
        """Load a classifier from its options (the ones ``infer``, ``eval`` and ``deploy`` share)."""
        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        attn_impl = known_attn(args.attn_impl)
        model, tokenizer, spec, space, train = load_trained(args.model, args.adapters, args, device)
        clf = cls(model.to(device), tokenizer, spec, space, train, device, args.padding_free, attn_impl)
        if args.threshold is not None:
            clf.threshold = args.threshold
        return clf

    @property
    def threshold(self) -> float:
        """The training ``--threshold`` (or the last value set); per-label values are in :attr:`thresholds`."""
        return self._default_threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._default_threshold = float(value)
        self.thresholds = dict.fromkeys(self.labels, float(value))

    def _logits(self, texts: list[str] | str, text_pairs: list[str] | str | None, batch_size: int) -> np.ndarray:
        texts = [texts] if isinstance(texts, str) else list(texts)
        pairs = [text_pairs] if isinstance(text_pairs, str) else list(text_pairs or [None] * len(texts))
        if len(pairs) != len(texts):
            raise ConfigError(f"{len(texts)} texts but {len(pairs)} text_pairs.")
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise ConfigError(f"texts must be strings; item {bad[0]} is {type(texts[bad[0]]).__name__}.")
        return self.logits_rows(self.encode([Example(t, p) for t, p in zip(texts, pairs)]), batch_size)

    def encode(self, examples: list[Example]) -> list[dict]:
        """Token ids (and image paths, for image+text models) of prepared examples, formatted as in training.

        Not thread-safe (the tokenizer is shared): callers that encode from several threads hold a lock.
        """
        return self.encoder.encode(examples)

    def logits_rows(self, rows: list[dict], batch_size: int = 32) -> np.ndarray:
        """Raw logits ``[n, num_labels]`` of rows from :meth:`encode`, in order."""
        if not rows:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return predict_logits(self.model, rows, self.collator, batch_size, self.device)

    def prediction(self, probs: np.ndarray):
        """What :meth:`predict` returns for one row of :meth:`predict_proba` scores."""
        return prediction(probs, self.space, [self.thresholds[n] for n in self.labels])

    def predict_proba(self, texts: list[str] | str, text_pairs: list[str] | str | None = None,
                      batch_size: int = 32) -> np.ndarray:
        """Scores ``[n, num_labels]``: softmax (single-label), sigmoid (multi-label) or raw values (regression).

        Args:
            texts: One text or a list of texts.
            text_pairs: Second texts for pair tasks (same length as ``texts``).
            batch_size: Rows per forward pass.
        """
        return logits_to_probs(self._logits(texts, text_pairs, batch_size), self.problem_type)

    def predict(self, texts: list[str] | str, text_pairs: list[str] | str | None = None,
                batch_size: int = 32) -> list:
        """One prediction per text: a label name, a list of names (multi-label, :attr:`thresholds`) or a float.

        Args:
            texts: One text or a list of texts (a single string still returns a list of one).
            text_pairs: Second texts for pair tasks (same length as ``texts``).
            batch_size: Rows per forward pass.
        """
        probs = self.predict_proba(texts, text_pairs, batch_size)
        return [self.prediction(p) for p in probs]

    def score(self, query: str | list[str], docs: list[str] | str, batch_size: int = 32) -> list[float]:
        """The one-output head's value for each (query, document) pair: a reward or a relevance score.

        Pairs are formatted as ``text``/``text_pair`` rows are in training (decoders: one user turn
        ``"query\\ndocument"``; encoders: ``tokenizer(query, document)``), the same scores ``/score`` serves.

        Args:
            query: One query scored against every document, or one query per document.
            docs: One document or a list of documents.
            batch_size: Rows per forward pass.

        Raises:
            ConfigError: The model has more than one output, or the lengths do not pair up.
        """
        if len(self.labels) != 1:
            raise ConfigError(f"score() and rank() need a one-output model (a reward model, a reranker or a "
                              f"num_labels=1 regression head); this one has {len(self.labels)} outputs "
                              f"({self.problem_type}: {', '.join(self.labels)}). Use predict_proba() instead.")
        docs = [docs] if isinstance(docs, str) else list(docs)
        queries = [query] * len(docs) if isinstance(query, str) else list(query)
        if len(queries) != len(docs):
            raise ConfigError(f"{len(queries)} queries but {len(docs)} documents: give one query, or one per "
                              "document.")
        return [float(p[0]) for p in self.predict_proba(queries, docs, batch_size)] if docs else []

    def rank(self, query: str, docs: list[str], top_n: int | None = None, batch_size: int = 32) -> list[dict]:
        """The documents ordered by :meth:`score` for ``query``, best first (ties keep their order).

        Args:
            query: The query.
            docs: The documents to rank.
            top_n: Keep only the best ``top_n`` (default: all).
            batch_size: Rows per forward pass.

        Returns:
            ``[{"index": i, "document": docs[i], "score": s}, ...]``, ``index`` being the position in ``docs``.
        """
        if not isinstance(query, str):
            raise ConfigError(f"rank() takes one query string, not {type(query).__name__}; score() pairs lists.")
        docs = [docs] if isinstance(docs, str) else list(docs)
        scores = self.score(query, docs, batch_size)
        order = sorted(range(len(docs)), key=lambda i: -scores[i])
        return [{"index": i, "document": docs[i], "score": scores[i]} for i in order[:top_n]]

    def __repr__(self) -> str:
        kind = "regression" if self.problem_type == REGRESSION else f"{len(self.labels)} labels"
        return f"Classifier({self.spec.name}, {self.problem_type}, {kind}, device={self.device})"
