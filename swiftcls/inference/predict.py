"""Batched prediction: logits for encoded rows (length-sorted batches), streamed chunk by chunk over large inputs."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import numpy as np
import torch
from tqdm.auto import tqdm

from ..core.labels import MULTI, REGRESSION, SINGLE, LabelSpace
from ..data.chunking import as_windows, row_tokens
from ..data.encode import PromptEncoder
from ..metrics.ranking import scoring_metrics
from ..models.pooling import classifier_logits


@torch.no_grad()
def predict_logits(model, rows: list[dict], collator, batch_size: int = 32,
                   device: str | torch.device = "cpu", desc: str = "Predicting", progress: bool = True) -> np.ndarray:
    """Logits for ``rows`` in their original order; batches are formed from length-sorted rows (less padding).

    ``batch_size`` counts model rows: a chunked row (``--long_text chunk``) counts its windows, and a batch takes
    whole rows (at least one), so memory per forward pass stays bounded and a row's windows are pooled together.
    """
    order = sorted(range(len(rows)), key=lambda i: row_tokens(rows[i]))
    out = [None] * len(rows)
    model.to(device)
    batches = _batches(order, [len(as_windows(r)) for r in rows], batch_size)
    for idx in tqdm(batches, desc=desc, unit="batch", disable=not progress or len(order) <= batch_size):
        batch = collator([{k: v for k, v in rows[i].items() if k != "labels"} for i in idx])
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        logits = classifier_logits(model, batch).float().cpu().numpy()
        for i, row_logits in zip(idx, logits):
            out[i] = row_logits
    return np.stack(out)


def _batches(order: list[int], windows: list[int], batch_size: int) -> list[list[int]]:
    """``order`` cut into batches of at most ``batch_size`` windows (one row when a row alone has more)."""
    batches, current, size = [], [], 0
    for i in order:
        if current and size + windows[i] > batch_size:
            batches.append(current)
            current, size = [], 0
        current.append(i)
        size += windows[i]
    return batches + [current] if current else batches


STREAM_ROWS = 4096


def stream_logits(encoder: PromptEncoder, examples: Iterable, predict, skipped: list | None = None,
                  chunk_rows: int | None = None):
    """Yield ``(examples, encoded rows, logits)`` chunk by chunk, with one progress bar over all rows.

    ``examples`` may be a lazy iterator (:func:`~swiftcls.data.dataset.iter_examples`): only one chunk's rows,
    token ids and logits are alive at a time, so files larger than memory are predicted in bounded memory.
    ``predict(examples, rows) -> logits`` runs the backend on a chunk. With ``skipped`` (``--skip_bad_rows``),
    rows the encoder rejects (bad images) are recorded there and left out.
    """
    total = len(examples) if hasattr(examples, "__len__") else None
    # Chunked rows hold up to max_chunks windows each: fewer rows per chunk keep the windows in memory bounded alike.
    chunk_rows = chunk_rows or (max(STREAM_ROWS // encoder.chunk.max_chunks, 1) if encoder.chunked else STREAM_ROWS)
    bar = tqdm(total=total, desc="Predicting", unit="row", disable=total is not None and total <= 32)
    rows_in = iter(examples)
    while chunk := list(islice(rows_in, chunk_rows)):
        kept, rows = encoder.encode_kept(chunk, skipped=skipped)
        chunk = [chunk[i] for i in kept]
        if chunk:
            yield chunk, rows, predict(chunk, rows)
        bar.update(len(chunk))
    bar.close()


def label_matrix(encoded: list, problem_type: str) -> np.ndarray:
    return np.asarray(encoded, dtype=np.float32 if problem_type != SINGLE else np.int64)


def evaluate_groups(model, groups: list[dict], task: str, collator, batch_size: int = 32,
                    device: str | torch.device = "cpu") -> dict:
    """Metrics of a scoring ``task`` (rm, reranker) at the end of ``sft``: ``groups`` are whole groups
    (``{"rows": [...]}``), scored row by row with the training ``collator`` and ranked within each group
    (:func:`~swiftcls.metrics.ranking.scoring_metrics`). Classification runs are scored by
    :func:`swiftcls.inference.decide.decide` instead (calibration, thresholds)."""
    rows = [row for item in groups for row in item["rows"]]
    logits = predict_logits(model, rows, collator, batch_size, device, desc="Evaluating")
    return scoring_metrics(task, logits, np.asarray([r["labels"] for r in rows], dtype=np.float64))


def prediction(probs: np.ndarray, space: LabelSpace, threshold: float | list[float]):
    """What a user sees for one row of scores: a label name, a list of names (multi-label: each label whose
    probability is >= its threshold; ``threshold`` is one number or one per label) or the value(s)."""
    if space.problem_type == REGRESSION:
        return float(probs[0]) if len(probs) == 1 else [float(p) for p in probs]
    if space.problem_type == MULTI:
        limits = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (len(probs),))
        return [space.names[i] for i, p in enumerate(probs) if p >= limits[i]]
    return space.names[int(np.argmax(probs))]
