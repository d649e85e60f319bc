"""How ``swiftcls sft`` holds its training rows when they are not all encoded up front: streamed from the files
(``--streaming``, swiftcls/data/streaming.py) or encoded per item (``--lazy_tokenize``, swiftcls/data/lazy.py)."""

from __future__ import annotations

import logging
import os

from datasets import Dataset

from ..config.sft import SftArguments
from ..core.errors import ConfigError
from ..core.labels import REGRESSION, SINGLE, LabelSpace, read_label_names
from ..core.spec import ModelSpec
from ..data.arrow import WRITE_CHUNK, batch_examples
from ..data.dataset import Example, encode_labels, load_examples, parse_columns
from ..data.encode import PromptEncoder
from ..data.lazy import LazyRows, SkippingCollator, check_lazy
from ..data.streaming import StreamedRows, StreamSource, scan_labels
from .common import read_options

logger = logging.getLogger(__name__)


def read_streaming(args: SftArguments) -> tuple:
    """What ``_read_data`` returns, for ``--streaming``: the label space, no training examples (they are streamed),
    the eagerly read ``--val_dataset`` rows and their labels, and the skipped validation rows."""
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
    return space, None, [], val_ex, val_y, skipped


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


def held_rows(args: SftArguments, encoder: PromptEncoder, spec: ModelSpec, space: LabelSpace,
              train_ex: Dataset | None, images: bool) -> StreamedRows | LazyRows | None:
    """The training rows as a stream (``--streaming``) or encoded per item (``--lazy_tokenize``, by default for
    image rows); None when they are encoded up front (the eager path).

    Args:
        train_ex: None with ``--streaming``; else the validated rows on Arrow with their encoded ``labels``
            (swiftcls/commands/prepared.py), turned back into examples when they are tokenized lazily.
        images: Whether any of ``train_ex`` has an image (:func:`~swiftcls.data.arrow.has_images`).
    """
    rank0 = int(os.environ.get("RANK", "0")) == 0
    skipped_path = os.path.join(args.output_dir, "skipped_rows.jsonl") if args.skip_bad_rows and rank0 else None
    if args.streaming:
        # Every process reads the same seeded stream and keeps its own rows (accelerate's IterableDatasetShard);
        # dispatching would cut packed (padding-free) batches, which have no per-row dimension.
        args.accelerator_config.dispatch_batches = False
        buffer = 1 if args.train_sampling_strategy == "sequential" else args.shuffle_buffer_size
        source = StreamSource(args.dataset, read_options(args), parse_columns(args.columns), args.skip_bad_rows,
                              args.data_seed)
        return StreamedRows(source, space, encoder.encode_kept, buffer, skipped_path)
    lazy = args.lazy_tokenize
    if lazy is None:
        lazy = images and args.train_sampling_strategy != "group_by_length"
    if not lazy:
        return None
    # Lazy rows are image rows in practice (VL sets of thousands, not millions): the examples are held in memory.
    examples = [ex for batch in train_ex.iter(batch_size=WRITE_CHUNK) for ex in batch_examples(batch)]
    check_lazy(examples, encoder.prompt, encoder.image_processor, spec.name)
    logger.info("--lazy_tokenize: %d training rows are tokenized as the trainer reads them.", len(examples))
    return LazyRows(examples, train_ex["labels"], encoder.encode_kept, args.skip_bad_rows, skipped_path)


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
