"""Turn data files into validated examples: column mapping, field checks, sampling, validation split."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..core.errors import ConfigError, DataError
from ..core.labels import SINGLE, LabelSpace, label_separator, parse_label
from .checks import check_messages, check_text
from .hub import read_hf_dataset
from .readers import SUPPORTED_SUFFIXES, ReadOptions, Record, iter_records, no_rows
from .split import stratified_split

logger = logging.getLogger(__name__)

T = TypeVar("T")
TEXT_KEYS = ("text", "query", "content", "sentence", "sentence1")
PAIR_KEYS = ("text_pair", "sentence2")
LABEL_KEYS = ("label", "labels")
# Targets of --columns; the last group names the fields of rm/reranker rows (swiftcls/data/preference.py, rerank.py).
TARGETS = ("text", "text_pair", "label", "messages", "images", "ignore",
           "prompt", "chosen", "rejected", "rejected_response", "margin", "query", "document", "positive", "negative",
           "response", "positive_messages", "negative_messages")


@dataclass
class Example:
    """One validated row. ``label`` is the parsed raw label ``(kind, value)`` or None."""

    text: str | None
    text_pair: str | None = None
    messages: list[dict] | None = None
    label: tuple[str, object] | None = None
    images: list[str] = field(default_factory=list)
    file: str = ""
    row: int = 0
    raw: dict = field(default_factory=dict)
    group: int | None = None  # rm/reranker: rows of one group (a pair, a query's documents) share it
    margin: float = 0.0  # rm: the row's --margin column (its chosen/rejected pair must differ by at least this)

    @property
    def where(self) -> dict:
        return {"file": self.file, "row": self.row}


def parse_columns(columns: str | dict | None) -> dict[str, str]:
    """Parse ``--columns`` JSON into ``{source column: target field}``."""
    if not columns:
        return {}
    if isinstance(columns, str):
        try:
            columns = json.loads(columns)
        except json.JSONDecodeError as err:
            raise ConfigError(f"--columns is not valid JSON ({err}): {columns!r}. "
                              "Example: --columns '{\"SMS\": \"text\", \"Label\": \"label\"}'") from err
    if not isinstance(columns, dict):
        raise ConfigError(f"--columns must be a JSON object mapping column -> field, got {columns!r}.")
    for src, dst in columns.items():
        if dst not in TARGETS:
            raise ConfigError(f"--columns maps '{src}' to '{dst}'; targets must be one of {TARGETS}.")
    return {str(k): v for k, v in columns.items()}


def _first(fields: dict, keys: tuple[str, ...]):
    return next((fields[k] for k in keys if k in fields), None)


# Which record columns fill each field when --columns does not name one (first found wins).
DEFAULT_FIELDS = {"text": TEXT_KEYS, "text_pair": PAIR_KEYS, "label": LABEL_KEYS, "messages": ("messages",),
                  "images": ("images",)}


def _check_mapped_columns(record: Record, columns: dict[str, str], where: dict) -> None:
    """A column named in --columns that the row lacks, while a default-named column would silently fill its field
    instead (``{"Label": "label"}`` on rows that have ``label``), is an error."""
    for src, target in columns.items():
        if src in record.fields or target == "ignore":
            continue
        defaults = DEFAULT_FIELDS.get(target, (target,))
        stand_in = next((k for k in defaults if k in record.fields and columns.get(k, k) == k), None)
        if stand_in is not None:
            raise DataError(f"--columns maps '{src}' to {target}, but the row has no column '{src}' (columns found: "
                            f"{sorted(record.fields)[:12]}); column '{stand_in}' would be used instead.", field=src,
                            **where, fix=f"fix the column name in --columns, or map '{stand_in}' instead.")


def check_size(text: str | None, pair: str | None, messages: list[dict] | None, where: dict, limit: int) -> None:
    size = len(text or "") + len(pair or "") + sum(len(m["content"]) for m in messages or [])
    if size > limit:
        raise DataError(f"the row holds {size} characters of text, more than --max_row_chars {limit}.", **where,
                        fix="split or shorten the row, drop it (--skip_bad_rows), or raise --max_row_chars.")


def mapped_fields(record: Record, columns: dict[str, str]) -> dict:
    """The record's fields renamed by ``--columns`` (``ignore``d ones dropped), after checking the mapping."""
    _check_mapped_columns(record, columns, {"file": record.file, "row": record.row})
    fields = {}
    for key, value in record.fields.items():
        target = columns.get(key, key)
        if target != "ignore":
            fields[target] = value
    return fields


def to_example(record: Record, columns: dict[str, str], require_label: bool,
               options: ReadOptions | None = None) -> Example:
    """Validate one record and map its fields; raises DataError naming file, row and field.

    ``options`` gives ``--label_sep`` and ``--max_row_chars`` (defaults: ``ReadOptions()``).
    """
    options = options or ReadOptions()
    where = {"file": record.file, "row": record.row}
    fields = mapped_fields(record, columns)
    messages = fields.get("messages")
    text = _first(fields, TEXT_KEYS)
    if messages is not None:
        messages = check_messages(messages, where)
    elif text is None and any(k in fields for k in TEXT_KEYS):
        key = next(k for k in TEXT_KEYS if k in fields)
        raise DataError(f"'{key}' is null.", field="text", **where, fix="fill it in or drop the row.")
    elif text is None:
        found = sorted(record.fields)
        guess = max((k for k in found if k not in LABEL_KEYS and columns.get(k) not in ("label", "ignore")),
                    key=lambda k: len(str(record.fields[k])), default=found[0] if found else "my_text")
        raise DataError(f"no text field; columns found: {found[:12]}.", field="text", **where,
                        fix=f"name the text column one of {TEXT_KEYS} or map it: --columns '{{\"{guess}\": "
                            "\"text\"}'.")
    elif not isinstance(text, str):
        raise DataError(f"text must be a string, got {type(text).__name__}.", field="text", **where,
                        fix="quote the value as a string.")
    elif not text.strip():
        raise DataError("text is empty or whitespace.", field="text", **where, fix="fill it in or drop the row.")
    else:
        check_text(text, "text", where)
    pair = _first(fields, PAIR_KEYS)
    if pair is not None and (not isinstance(pair, str) or not pair.strip()):
        raise DataError("text_pair must be a non-empty string.", field="text_pair", **where, fix="fill it in.")
    if pair is not None:
        check_text(pair, "text_pair", where)
    check_size(text if messages is None else None, pair, messages, where, options.max_row_chars)
    raw_label = _first(fields, LABEL_KEYS)
    label = None
    if raw_label is not None and not (isinstance(raw_label, str) and not raw_label.strip()):
        label = parse_label(raw_label, where, label_separator(options.label_sep, record.file))
    elif require_label:
        raise DataError("missing or empty label.", field="label", **where,
                        fix="add a 'label' field (or map your column with --columns), or pass --skip_bad_rows.")
    images = fields.get("images") or []
    images = [images] if isinstance(images, str) else images
    if not isinstance(images, list) or not all(isinstance(p, str) for p in images):
        raise DataError(f"'images' must be a path or a list of paths, got {images!r:.60}.", field="images", **where,
                        fix='write e.g. "images": ["cat.png"].')
    return Example(text, pair, messages, label, images, record.file, record.row, dict(record.fields))


def _split_spec(spec: str) -> tuple[str, int | None]:
    """``file.jsonl#500`` -> (``file.jsonl``, 500)."""
    if "#" in spec:
        name, _, count = spec.rpartition("#")
        if not count.isdigit() or int(count) <= 0:
            raise ConfigError(f"dataset '{spec}': the part after '#' must be a positive row count.")
        return name, int(count)
    return spec, None


def _split_name(spec: str) -> tuple[str, str | None]:
    """``glue:sst2@validation`` -> (``glue:sst2``, ``validation``). A data file (or any existing path) keeps its
    '@': e.g. ``runs@v2/train.jsonl``."""
    path = Path(spec).expanduser()
    if "@" not in spec or path.suffix.lower() in SUPPORTED_SUFFIXES or path.exists():
        return spec, None
    name, _, split = spec.rpartition("@")
    if not name or not split:
        raise ConfigError(f"dataset '{spec}': write it as name[:subset][@split][#count], e.g. "
                          "glue:sst2@validation#500.")
    return name, split


def read_dataset(spec: str, options: ReadOptions, skipped: list[DataError] | None = None) -> Iterable[Record]:
    """Records of one ``--dataset`` value without its ``#count``: a local file (streamed), a dataset folder
    (``folder[@split]``, read by ``datasets``) or a hub dataset (``name[:subset][@split]``); the split defaults
    to ``train``."""
    name, split = _split_name(spec)
    path = Path(name).expanduser()
    if path.is_dir():
        return read_hf_dataset(str(path), split=split or "train")
    if path.suffix.lower() in SUPPORTED_SUFFIXES or path.exists():
        if split is not None:
            raise DataError(f"'@{split}' picks a split of a dataset folder or hub dataset, but this is one file.",
                            file=name, fix=f"drop '@{split}' and pass the file that holds that split.")
        return iter_records(str(path), options, skipped)
    hub, _, subset = name.partition(":")
    return read_hf_dataset(hub, split=split or "train", subset=subset or None)


def iter_examples(specs: list[str], options: ReadOptions, columns: dict[str, str], require_label: bool = True,
                  skipped: list[DataError] | None = None, seed: int = 42) -> Iterator[Example]:
    """Validated examples of every dataset in ``specs`` (see :func:`iter_converted`, with :func:`to_example`).

    Args:
        specs: ``--dataset`` values (``file.jsonl``, ``file.jsonl#500``, hub names).
        options: CSV/TSV/encoding options.
        columns: ``--columns`` mapping.
        require_label: Whether a row without a label is an error.
        skipped: With ``--skip_bad_rows``, bad rows are appended here and left out; otherwise the first raises.
        seed: Seed for ``#count`` sampling (which reads that file whole).
    """
    return iter_converted(specs, options, lambda record: to_example(record, columns, require_label, options),
                          skipped, seed)


def iter_converted(specs: list[str], options: ReadOptions, convert: Callable[[Record], T],
                   skipped: list[DataError] | None = None, seed: int = 42) -> Iterator[T]:
    """Every record of every dataset in ``specs`` through ``convert``, streamed from local files as they are parsed.

    Args:
        specs: ``--dataset`` values (``file.jsonl``, ``file.jsonl#500``, hub names).
        options: CSV/TSV/encoding options.
        convert: Validates one record and maps it (raises DataError naming file, row and field).
        skipped: With ``--skip_bad_rows``, bad rows are appended here and left out; otherwise the first raises.
        seed: Seed for ``#count`` sampling (which reads that file whole).
    """
    for spec in specs:
        name, count = _split_spec(spec)
        records = read_dataset(name, options, skipped)
        if count is not None:
            records = list(records)
            if count < len(records):
                records = random.Random(seed).sample(records, count)
            else:
                logger.warning("%s: asked for %d rows, the file has %d; using all.", name, count, len(records))
        seen = 0
        for record in records:
            seen += 1
            try:
                yield convert(record)
            except DataError as err:
                if skipped is None:
                    raise
                skipped.append(err)
        if not seen:
            raise no_rows(name)


def check_usable(count: int, skipped: list[DataError], specs: list[str]) -> None:
    """Warn about skipped rows; raise when no row at all was usable."""
    if skipped:
        logger.warning("Skipped %d bad rows (listed in sft's <output_dir>/skipped_rows.jsonl, infer's "
                       "<result>_skipped.jsonl); first: %s", len(skipped), skipped[0])
    if not count:
        raise DataError(f"no usable rows ({len(skipped)} skipped; first: {skipped[0] if skipped else None}).",
                        file=", ".join(specs), fix="check the files and --columns.")


def load_examples(specs: list[str], options: ReadOptions, columns: dict[str, str], require_label: bool = True,
                  skip_bad_rows: bool = False, seed: int = 42) -> tuple[list[Example], list[DataError]]:
    """Load and validate every dataset in ``specs`` (see :func:`iter_examples`).

    Returns:
        The examples and, with ``skip_bad_rows``, the errors of the rows that were skipped (otherwise the
        first bad row raises).
    """
    skipped = []
    examples = list(iter_examples(specs, options, columns, require_label, skipped if skip_bad_rows else None, seed))
    check_usable(len(examples), skipped, specs)
    return examples, skipped


def encode_labels(examples: list[Example], space: LabelSpace, skip_bad_rows: bool = False,
                  skipped: list[DataError] | None = None) -> tuple[list[Example], list]:
    """Encode labels against ``space``; returns the kept examples and their encoded labels."""
    kept, encoded = [], []
    for ex in examples:
        try:
            encoded.append(space.encode(*ex.label, ex.where))
            kept.append(ex)
        except DataError as err:
            if not skip_bad_rows:
                raise
            if skipped is not None:
                skipped.append(err)
    return kept, encoded


def split_validation(examples: list[Example], ratio: float, space: LabelSpace,
                     seed: int = 42) -> tuple[list[Example], list[Example]]:
    """Hold out ``ratio`` of the rows, stratified by class for single-label data when every class has 2+ rows
    (:func:`~swiftcls.data.split.stratified_split`)."""
    keys = [str(ex.label[1]) for ex in examples] if space.problem_type == SINGLE else None
    train, val = stratified_split(len(examples), keys, ratio, seed)
    return [examples[i] for i in train], [examples[i] for i in val]


def write_skipped(skipped: list[DataError], path: str) -> None:
    """One JSON line per skipped row: file, row, field and reason, so nothing is lost silently."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for err in skipped:
            f.write(json.dumps({"file": err.file, "row": err.row, "field": err.field, "error": str(err)},
                               ensure_ascii=False) + "\n")
