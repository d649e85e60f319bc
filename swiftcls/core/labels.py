"""Label parsing and the label space: problem type, names, and the id mapping saved in the model config."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, DataError

SINGLE, MULTI, REGRESSION = "single_label_classification", "multi_label_classification", "regression"
PROBLEM_TYPES = (SINGLE, MULTI, REGRESSION)
# The metric that picks the best checkpoint per problem type and whether higher is better; metric names ending in one
# of LOWER_IS_BETTER are errors (lower is better).
BEST_METRIC = {SINGLE: ("f1_macro", True), MULTI: ("f1_micro", True), REGRESSION: ("pearson", True)}
LOWER_IS_BETTER = ("loss", "mse", "mae", "rmse")
MAX_INFERRED_IDS = 100_000  # larger ids without --num_labels are almost surely a wrong column, not a class
DELIMITED_SUFFIXES = (".csv", ".tsv")  # files whose cells are plain strings, so a list can only be written "a,b"
ASK = "ask"  # parse_label's sep for JSON-like sources: a comma in a string label is ambiguous, so it is an error
logger = logging.getLogger(__name__)
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$", re.IGNORECASE)

# Scoring tasks (--task): one-output regression heads trained on groups of rows (docs/reward_rerank.md). Their
# best-checkpoint metric, kept apart from BEST_METRIC (which is keyed by problem type).
SEQ_CLS, RM, RERANKER = "seq_cls", "rm", "reranker"
SCORING_TASKS = (RM, RERANKER)
TASK_BEST_METRIC = {RM: ("pairwise_accuracy", True), RERANKER: ("mrr@10", True)}


def label_separator(label_sep: str, file: str) -> str | None:
    """``--label_sep`` resolved for one data file, as :func:`parse_label`'s ``sep``.

    ``auto``: CSV/TSV cells are comma lists (GoEmotions' ``"8,20"``); in JSON, JSONL, parquet and hub datasets
    labels can be real lists, so a string with a comma is ambiguous (``"Smith, John"``) and :data:`ASK` makes it
    an error. ``none``: strings are never split. Anything else: the separator, for every file type.
    """
    if label_sep == "auto":
        return "," if file.lower().endswith(DELIMITED_SUFFIXES) else ASK
    return None if label_sep == "none" else label_sep


def parse_label(raw, where: dict, sep: str | None = ",") -> tuple[str, object]:
    """Classify one raw label as ``int``, ``float``, ``str`` or ``list`` and normalise it.

    Strings are read as ids when they look like integers, as scores when they look like decimals, and as
    lists when they contain ``sep`` (CSV/TSV: ``"8,20"``), so real files need no cleaning. Booleans are kept as
    ``True``/``False`` (ids 1/0; :meth:`LabelSpace.infer` warns about them).

    Args:
        raw: The value from the data file.
        where: ``file``/``row`` for error messages.
        sep: What separates several labels in one string (None: never split; :data:`ASK`: a comma is an error,
            see :func:`label_separator`).
    """
    def bad(msg: str, fix: str) -> DataError:
        return DataError(msg, field="label", fix=fix, **where)

    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise bad("missing or empty label.", "give every training row a label, or pass --skip_bad_rows.")
    if isinstance(raw, bool):
        return "int", raw
    if isinstance(raw, int):
        return "int", raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise bad(f"label {raw} is not a finite number.", "fix or drop this row.")
        return "float", raw
    if isinstance(raw, str):
        text = raw.strip()
        if sep == ASK and "," in text:
            raise bad(f"label {text!r} holds a comma: one name, or several labels?",
                      "write several labels as a list ([\"a\", \"b\"]); pass --label_sep none if the comma is "
                      "part of the name, or --label_sep ',' to split such strings.")
        if sep not in (None, ASK) and sep in text:
            return "list", [parse_label(part, where, None)[1] for part in text.split(sep) if part.strip()]
        if _INT.match(text):
            return "int", int(text)
        if _FLOAT.match(text):
            return parse_label(float(text), where)
        return "str", text
    if isinstance(raw, (list, tuple)):
        items = []
        for item in raw:
            kind, value = parse_label(item, where, None)
            if kind not in ("int", "str"):
                raise bad(f"multi-label entries must be label names or ids, got {item!r}.",
                          "use a list like [\"joy\", \"love\"] or [3, 17].")
            items.append(value)
        return "list", items
    raise bad(f"label has unsupported type {type(raw).__name__}: {raw!r}.",
              "use an int id, a label name, a list of them, or a float score.")


@dataclass
class LabelSpace:
    """The task's labels: problem type and names in id order (``["score"]`` for regression)."""

    problem_type: str
    names: list[str]

    @property
    def num_labels(self) -> int:
        return len(self.names)

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    @classmethod
    def from_config(cls, config) -> LabelSpace:
        """The label space a trained model carries in its config."""
        num = config.num_labels
        problem_type = config.problem_type or (REGRESSION if num == 1 else SINGLE)
        id2label = {int(k): v for k, v in config.id2label.items()}
        return cls(problem_type, [id2label.get(i, str(i)) for i in range(num)])

    @classmethod
    def infer(cls, parsed: list[tuple[str, object, dict]], problem_type: str | None = None,
              num_labels: int | None = None, names: list[str] | None = None) -> LabelSpace:
        """Infer (or check) problem type and label names from parsed labels.

        Args:
            parsed: ``(kind, value, where)`` per row, from ``parse_label``.
            problem_type: Given problem type, checked against the data.
            num_labels: Given number of labels, checked against the data.
            names: Given label names in id order.
        """
        if not parsed:
            raise DataError("no labelled rows to learn the labels from.", fix="check --dataset and --columns.")
        kinds = {kind for kind, _, _ in parsed}
        inferred = MULTI if "list" in kinds else REGRESSION if "float" in kinds else SINGLE
        problem_type = problem_type or inferred
        if problem_type == REGRESSION:
            for kind, value, where in parsed:
                if kind not in ("int", "float"):
                    raise DataError(f"regression needs numeric labels, got {value!r}.", field="label", **where,
                                    fix="fix the label or choose another --problem_type.")
            count = num_labels or 1
            return cls(REGRESSION, names or (["score"] if count == 1 else [f"score_{i}" for i in range(count)]))
        if problem_type == SINGLE and "list" in kinds:
            kind, value, where = next(p for p in parsed if p[0] == "list")
            raise DataError(f"single-label task but this row has several labels {value!r}.", field="label",
                            **where, fix="use --problem_type multi_label_classification, or one label per row.")
        if problem_type == SINGLE and "float" in kinds:
            kind, value, where = next(p for p in parsed if p[0] == "float")
            raise DataError(f"classification label {value!r} is a decimal number.", field="label", **where,
                            fix="use integer ids or names, or --problem_type regression.")
        values = [(v, w) for kind, value, w in parsed for v in (value if kind == "list" else [value])]
        is_id = {isinstance(v, int) for v, _ in values}
        if len(is_id) > 1 and not names:
            first_id = next(w for v, w in values if isinstance(v, int))
            first_name = next(w for v, w in values if isinstance(v, str))
            raise DataError(f"labels mix integer ids (e.g. row {first_id['row']}) and names "
                            f"(e.g. row {first_name['row']}).", field="label", **first_name,
                            fix="use one kind, or pass --labels so ids and names can be matched.")
        if names:
            space_names = list(names)
        elif True in is_id:
            top, where = max(values, key=lambda vw: vw[0]) if values else (-1, None)
            if num_labels is None and top >= MAX_INFERRED_IDS:
                raise DataError(f"label id {top} would mean {top + 1} classes.", field="label", **where,
                                fix="fix the id, or pass --num_labels (or --labels) if there really are that many.")
            space_names = [str(i) for i in range(num_labels or top + 1)]
            if num_labels is None:
                _warn_about_ids(values, top)
        else:
            space_names = sorted({v for v, _ in values})
        if len(set(space_names)) != len(space_names):
            dup = next(n for n in space_names if space_names.count(n) > 1)
            raise ConfigError(f"duplicate label names in {space_names} ('{dup}'). Fix: give each class one "
                              "unique name in --labels.")
        if num_labels is not None and num_labels != len(space_names):
            raise ConfigError(f"--num_labels {num_labels} contradicts the {len(space_names)} labels "
                              f"{space_names[:10]}{'...' if len(space_names) > 10 else ''} found/given. Fix: drop "
                              "--num_labels (it is inferred), or pass integer ids / --labels with every class.")
        files = ", ".join(dict.fromkeys(w["file"] for _, _, w in parsed))
        if not space_names:
            raise DataError("no label names: every row's label list is empty.", file=files, field="label",
                            fix="give rows their labels, or pass --labels with every class name.")
        if len(space_names) < 2 and problem_type == SINGLE:
            raise DataError(f"only one class ({space_names}) in the data; a classifier needs at least two.",
                            file=files, field="label", fix="check the label column (--columns) or the data.")
        space = cls(problem_type, space_names)
        for kind, value, where in parsed:
            space.encode(kind, value, where)  # raises on ids out of range / unknown names
        return space

    def _label_id(self, value, where: dict) -> int:
        if isinstance(value, int):
            if not 0 <= value < self.num_labels:
                raise DataError(f"label id {value} is out of range 0..{self.num_labels - 1}.", field="label",
                                **where, fix="fix the id, or pass --num_labels / --labels with all classes.")
            return int(value)  # a bool label is id 0/1
        if value not in self.label2id:
            raise DataError(f"unknown label {value!r}; known labels: {self.names[:20]}.", field="label", **where,
                            fix="fix the label name, or retrain with this class included.")
        return self.label2id[value]

    def encode(self, kind: str, value, where: dict):
        """Encode one parsed label: class id, multi-hot float list, or float score."""
        if self.problem_type == REGRESSION:
            if kind not in ("int", "float"):
                raise DataError(f"regression needs a number, got {value!r}.", field="label", **where,
                                fix="fix the label.")
            try:
                return float(value)
            except OverflowError:  # ints beyond float range (JSON allows any number of digits)
                raise DataError(f"label {str(value)[:20]}... is too large for a float.", field="label", **where,
                                fix="fix the label.") from None
        if self.problem_type == MULTI:
            hot = [0.0] * self.num_labels
            for item in value if kind == "list" else [value]:
                hot[self._label_id(item, where)] = 1.0
            return hot
        if kind == "list":
            raise DataError(f"single-label model but the row has several labels {value!r}.", field="label",
                            **where, fix="give one label per row.")
        if kind == "float":
            raise DataError(f"label {value!r} is not a class id or name.", field="label", **where,
                            fix="use an integer id or a label name.")
        return self._label_id(value, where)

    def decode(self, encoded):
        """Inverse of ``encode`` for reporting: name, list of names, or the score."""
        if self.problem_type == REGRESSION:
            return encoded
        if self.problem_type == MULTI:
            return [self.names[i] for i, v in enumerate(encoded) if v >= 0.5]
        return self.names[int(encoded)]


def _warn_about_ids(values: list[tuple[object, dict]], top: int) -> None:
    """Warn when inferred ids may not mean what the data meant: booleans, or ids with gaps (``"0","1","2","10"``
    would give 11 classes, 8 of them never seen)."""
    booleans = next((w for v, w in values if isinstance(v, bool)), None)
    if booleans is not None:
        logger.warning("%s, row %s: labels are booleans (true/false); they are read as class ids 1/0 named '1'/'0'. "
                       "Pass --labels with the names for false and true (in that order) to name them.",
                       booleans["file"], booleans["row"])
    seen = {int(v) for v, _ in values}
    missing = [i for i in range(top + 1) if i not in seen]
    if missing:
        logger.warning("Labels are read as class ids 0..%d, but %d of them never occur (%s%s), so the model gets %d "
                       "classes. If the labels are names rather than ids, pass them with --labels; if the classes "
                       "are right, pass --num_labels %d to silence this.", top, len(missing),
                       ", ".join(map(str, missing[:10])), ", ..." if len(missing) > 10 else "", top + 1, top + 1)


def read_label_names(labels: list[str]) -> list[str] | None:
    """``--labels``: names given inline (``a b`` or ``a,b``), or one file with one name per line."""
    if not labels:
        return None
    if len(labels) == 1 and Path(labels[0]).is_file():
        lines = Path(labels[0]).read_text(encoding="utf-8-sig").splitlines()
        return [line.strip() for line in lines if line.strip()]
    return [name.strip() for item in labels for name in item.split(",") if name.strip()]
