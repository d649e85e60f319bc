"""Calibration for ``swiftcls export --to onnx --onnx_quantize int8``: smooth the merged model on real rows first.

Families whose template names ``onnx_int8_smooth`` (the text decoders) get SmoothQuant smoothing
(:mod:`swiftcls.models.smoothing`) measured on ``--quant_n_samples`` rows of ``--dataset``, or by default of the
training ``--dataset`` recorded in ``args.json``. The rows are formatted and batched exactly as ``Classifier`` does.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from itertools import islice

from ..config.export import ExportArguments
from ..core.errors import ConfigError, DataError
from ..core.labels import LabelSpace
from ..core.spec import ModelSpec
from ..data.dataset import iter_examples, parse_columns
from ..data.readers import ReadOptions
from ..inference.classifier import Classifier
from ..models.smoothing import input_ranges, smooth

logger = logging.getLogger(__name__)


def smooth_for_int8(model, tokenizer, spec: ModelSpec, space: LabelSpace, payload: dict,
                    args: ExportArguments) -> dict | None:
    """Smooth ``model`` in place for int8 when its family names smoothing and calibration rows are at hand.

    Args:
        model: The merged float model about to be exported.
        tokenizer: Its tokenizer.
        spec: The family spec (``onnx_int8_smooth``).
        space: The checkpoint's labels.
        payload: The checkpoint's ``args.json`` (prompt formatting; the training ``--dataset`` and read options).
        args: The export options (``--dataset``, ``--quant_n_samples``).

    Returns:
        ``{"rows", "dataset", "alpha", "groups"}`` for ``config.json``, or None when nothing was smoothed.

    Raises:
        DataError, ConfigError: An explicit ``--dataset`` that cannot be read.
    """
    if not spec.onnx_int8_smooth:
        return None
    given = list(args.dataset)
    sources = given or list(payload.get("dataset") or [])
    if not sources:
        logger.warning("--onnx_quantize int8: no calibration rows (no --dataset, none in args.json), so the %s "
                       "graph is quantized without smoothing; pass --dataset FILE for better int8 accuracy.",
                       spec.name)
        return None
    # The file-reading flags of training (args.json), as ReadOptions fields; absent ones keep their defaults.
    options = ReadOptions(**{f.name: payload[f.name] for f in fields(ReadOptions) if payload.get(f.name) is not None})
    bad = []  # a bad row only leaves the calibration sample (it is counted in the log), as --skip_bad_rows would
    try:
        examples = list(islice(iter_examples(sources, options, parse_columns(payload.get("columns")),
                                             require_label=False, skipped=bad), args.quant_n_samples))
        if not examples:
            raise DataError(f"no usable calibration row ({len(bad)} bad; first: {bad[0] if bad else None})",
                            file=", ".join(sources), fix="pass --dataset with rows in the training format.")
    except (DataError, ConfigError, OSError) as err:
        if given:
            raise
        logger.warning("--onnx_quantize int8: the training rows of args.json (%s) could not be read for calibration "
                       "(%s), so the graph is quantized without smoothing; pass --dataset FILE.",
                       ", ".join(sources), err)
        return None
    clf = Classifier(model, tokenizer, spec, space, payload, "cpu")
    rows = clf.encode(examples)
    ranges = input_ranges(model, spec.onnx_int8_smooth["pairs"], lambda: clf.logits_rows(rows, batch_size=16))
    groups = smooth(model, spec.onnx_int8_smooth, ranges)
    logger.info("int8 calibration: %d rows of %s%s", len(rows), ", ".join(sources),
                f" ({len(bad)} bad rows left out, first: {bad[0]})" if bad else "")
    return {"rows": len(rows), "dataset": sources, "alpha": spec.onnx_int8_smooth["alpha"], "groups": groups}
