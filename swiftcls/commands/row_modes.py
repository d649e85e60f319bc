"""How ``swiftcls sft`` reads and holds its classification rows: prepared on Arrow (swiftcls/commands/prepared.py)
and encoded up front or per item (``--lazy_tokenize``, swiftcls/data/lazy.py), or streamed from the files
(``--streaming``, swiftcls/data/streaming.py). :func:`read_prepared` and :func:`read_streaming` give the same
interface (:class:`PreparedData`, :class:`StreamedData`), so sft chooses between them once, when it reads."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from datasets import Dataset

from ..config.sft import SftArguments
from ..core.errors import ConfigError, DataError
from ..core.labels import REGRESSION, SINGLE, LabelSpace, read_label_names
from ..core.spec import ModelSpec
from ..data.arrow import WRITE_CHUNK, batch_examples, has_images
from ..data.dataset import Example, encode_labels, load_examples, parse_columns
from ..data.encode import PromptEncoder
from ..data.lazy import LazyRows, SkippingCollator, check_lazy
from ..data.streaming import StreamedRows, StreamSource, scan_labels
from .common import read_options
from .prepared import read_rows, tokenized_rows

logger = logging.getLogger(__name__)


@dataclass
class PreparedData:
    """Validated training and validation rows with encoded labels (memory-mapped Arrow), their label space, the
    rows skipped so far, the data's cache key, and whether each split has image rows (asked once: it decides lazy
    tokenizing and the tokens cache)."""

    space: LabelSpace
    train: Dataset
    val: Dataset | None
    skipped: list[DataError]
    key: str | None
    images: dict[str, bool]

    def train_labels(self) -> list:
        """The training labels (for ``--class_weights auto``)."""
        return self.train["labels"]

    def rows(self, args: SftArguments, encoder: PromptEncoder, spec: ModelSpec, row_errors: list | None) -> tuple:
        """The training rows (encoded per item with ``--lazy_tokenize``, by default for image rows; else token ids
        on Arrow) and the validation rows; rows the encoder rejects go to ``row_errors`` when it collects them."""
        train = lazy_rows(args, encoder, spec, self.train, self.images["train"])
        with args.main_process_first(local=True, desc="tokenizing"):  # one process per node tokenizes
            if train is None:
                train = tokenized_rows(args, encoder, self.train, self.key, "Tokenizing train", row_errors, "train",
                                       self.images["train"])
            val = tokenized_rows(args, encoder, self.val, self.key, "Tokenizing val", row_errors, "val",
                                 self.images["val"])
        return train, val


@dataclass
class StreamedData:
    """``--streaming``: the label space, the eagerly read ``--val_dataset`` rows and their labels, and the skipped
    validation rows; the training rows are read as training consumes them."""

    space: LabelSpace
    val: list[Example]
    val_labels: list
    skipped: list[DataError]

    def train_labels(self) -> list:
        """None known before training reads the stream (SftArguments refuses ``--class_weights auto`` with it)."""
        return []

    def rows(self, args: SftArguments, encoder: PromptEncoder, spec: ModelSpec, row_errors: list | None) -> tuple:
        """The training stream and the encoded validation rows (as :meth:`PreparedData.rows`)."""
        return (streamed_rows(args, encoder, self.space),
                labelled_rows(encoder, self.val, self.val_labels, "Tokenizing val", row_errors))


def read_prepared(args: SftArguments) -> PreparedData:
    """The rows of a run without ``--streaming`` (swiftcls/commands/prepared.py); one process per node reads, the
    others open its cache."""
    with args.main_process_first(local=True, desc="reading the data"):
        space, train, val, skipped, key = read_rows(args)
    images = {"train": has_images(train), "val": val is not None and has_images(val)}
    return PreparedData(space, train, val, skipped, key, images)


def read_streaming(args: SftArguments) -> StreamedData:
    """The label space and validation rows of a ``--streaming`` run: from ``--labels`` (or ``--num_labels``), else
    from one label-only pass over the training files."""
    common = {"options": read_options(args), "columns": parse_columns(args.columns),
              "skip_bad_rows": args.skip_bad_rows, "seed": args.data_seed}
    val_ex, skipped = load_examples(args.val_dataset, **common) if args.val_dataset else ([], [])
    val_parsed = [(*ex.label, ex.where) for ex in val_ex]
    names = read_label_names(args.labels)
    if names or (args.num_labels and args.problem_type):
        space = _given_space(args, names)
        logger.info("--streaming: %d labels from %s; the training files are read only by the stream.",
                    space.num_labels, "--labels" if names else "--num_labels")
        for kind, value, where in val_parsed:
            space.encode(kind, value, where)
    else:
        parsed, rows, bad = scan_labels(args.dataset, **common)
        space = LabelSpace.infer(parsed + val_parsed, args.problem_type, args.num_labels, names)
        logger.info("--streaming: one label-only pass over the training files (%d rows, %d bad) found %d labels; "
                    "pass --labels (or --num_labels with --problem_type) to skip it.", rows, bad, space.num_labels)
    val_ex, val_y = encode_labels(val_ex, space, args.skip_bad_rows, skipped)
    return StreamedData(space, val_ex, val_y, skipped)


def _given_space(args: SftArguments, names: list[str] | None) -> LabelSpace:
    if names and args.num_labels and args.num_labels != len(names):
        raise ConfigError(f"--num_labels {args.num_labels} contradicts the {len(names)} names in --labels.")
    problem_type = args.problem_type or SINGLE
    if names:
        return LabelSpace(problem_type, list(names))
    if problem_type == REGRESSION:
        return LabelSpace(REGRESSION, ["score"] if args.num_labels == 1 else
                          [f"score_{i}" for i in range(args.num_labels)])
    return LabelSpace(problem_type, [str(i) for i in range(args.num_labels)])


def _skipped_path(args: SftArguments) -> str | None:
    """Where rows skipped while training reads them are reported (the main process, ``--skip_bad_rows``)."""
    rank0 = int(os.environ.get("RANK", "0")) == 0
    return os.path.join(args.output_dir, "skipped_rows.jsonl") if args.skip_bad_rows and rank0 else None


def streamed_rows(args: SftArguments, encoder: PromptEncoder, space: LabelSpace) -> StreamedRows:
    """The training rows of ``--streaming``, read and encoded as training consumes them."""
    # Every process reads the same seeded stream and keeps its own rows (accelerate's IterableDatasetShard);
    # dispatching would cut packed (padding-free) batches, which have no per-row dimension.
    args.accelerator_config.dispatch_batches = False
    buffer = 1 if args.train_sampling_strategy == "sequential" else args.shuffle_buffer_size
    source = StreamSource(args.dataset, read_options(args), parse_columns(args.columns), args.skip_bad_rows,
                          args.data_seed)
    return StreamedRows(source, space, encoder.encode_kept, buffer, _skipped_path(args))


def lazy_rows(args: SftArguments, encoder: PromptEncoder, spec: ModelSpec, train_ex: Dataset,
              images: bool) -> LazyRows | None:
    """The training rows encoded per item (``--lazy_tokenize``, by default for image rows); None when they are
    encoded up front (the eager path).

    Args:
        train_ex: The validated rows on Arrow with their encoded ``labels`` (swiftcls/commands/prepared.py), turned
            back into examples when they are tokenized lazily.
        images: Whether any of ``train_ex`` has an image (:func:`~swiftcls.data.arrow.has_images`).
    """
    lazy = args.lazy_tokenize
    if lazy is None:
        lazy = images and args.train_sampling_strategy != "group_by_length"
    if not lazy:
        return None
    # Lazy rows are image rows in practice (VL sets of thousands, not millions): the examples are held in memory.
    examples = [ex for batch in train_ex.iter(batch_size=WRITE_CHUNK) for ex in batch_examples(batch)]
    check_lazy(examples, encoder.prompt, encoder.image_processor, spec.name)
    logger.info("--lazy_tokenize: %d training rows are tokenized as the trainer reads them.", len(examples))
    return LazyRows(examples, train_ex["labels"], encoder.encode_kept, args.skip_bad_rows, _skipped_path(args))


def labelled_rows(encoder: PromptEncoder, examples: list[Example], labels: list, desc: str, skipped: list | None
                  ) -> list[dict]:
    """Encoded rows with their labels (the eagerly read ``--val_dataset`` of a streamed run); rows the encoder
    rejects are left out when ``skipped`` collects them."""
    kept, rows = encoder.encode_kept(examples, desc, skipped)
    if examples and not rows:
        raise ConfigError(f"{desc}: every row was skipped ({len(skipped or [])} skipped in all).")
    return [{**r, "labels": labels[i]} for i, r in zip(kept, rows)]


def wrap_collator(collator, train_rows):
    """The collator, leaving out rows :class:`LazyRows` skipped when the training rows are lazy."""
    return SkippingCollator(collator) if isinstance(train_rows, LazyRows) else collator
