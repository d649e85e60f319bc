"""Reranker rows (``--task reranker``): a query with relevant and irrelevant documents.

Accepted rows (column names can be mapped with ``--columns``):

* ``{"query": "...", "positive": [docs], "negative": [docs]}`` (a string counts as one document);
* ms-swift's spellings: ``{"query", "response", "rejected_response"}`` and ``{"messages": [user turn],
  "positive_messages": [[turns], ...], "negative_messages": [[turns], ...]}``;
* pairs ``{"query": "...", "document": "...", "label": 1 | 0}`` (also ``text``/``text_pair``): rows of one query
  (same text, anywhere in the data) are gathered into one query.

Each (query, document) becomes an Example with ``text=query, text_pair=document``: encoded exactly as pair rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..core.errors import DataError
from .checks import check_messages, check_text
from .dataset import Example, check_size, mapped_fields
from .readers import ReadOptions, Record

POSITIVE_KEYS = ("positive", "response", "positive_messages")
NEGATIVE_KEYS = ("negative", "rejected_response", "negative_messages")


@dataclass
class Query:
    """One query and its documents, with where it was read (its first row) for errors."""

    query: str
    positives: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    file: str = ""
    row: int = 0
    raw: dict = field(default_factory=dict)
    pairs: bool = False  # gathered from query/document/label rows

    @property
    def where(self) -> dict:
        return {"file": self.file, "row": self.row}


def _text(value, name: str, where: dict) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"'{name}' must be a non-empty string, got {value!r:.60}.", field=name, **where,
                        fix="fill it in or drop the row (--skip_bad_rows).")
    return check_text(value, name, where)


def _docs(value, name: str, where: dict) -> list[str]:
    """Documents of one field: a string, a list of strings, or (``*_messages``) a list of turn lists."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise DataError(f"'{name}' must be a list of documents, got {type(value).__name__}.", field=name, **where,
                        fix=f'write e.g. "{name}": ["a document", "another"].')
    if name.endswith("_messages"):
        return [_text("\n".join(m["content"] for m in check_messages(turns, where)), name, where) for turns in items]
    return [_text(doc, name, where) for doc in items]


def _query_text(fields: dict, where: dict) -> str:
    if "query" in fields or "text" in fields:
        return _text(fields.get("query", fields.get("text")), "query", where)
    if "messages" in fields:
        turns = [m for m in check_messages(fields["messages"], where) if m["role"] == "user"]
        if turns:
            return _text(turns[-1]["content"], "messages", where)
    raise DataError(f"no query; columns found: {sorted(fields)[:12]}.", field="query", **where,
                    fix="name the query column 'query' or map it: --columns '{\"question\": \"query\"}'.")


def _relevance(raw, where: dict) -> bool:
    value = raw.strip() if isinstance(raw, str) else raw
    if value in (0, 1, "0", "1", True, False):  # True == 1 and 0.0 == 0 in Python
        return value in (1, "1")
    raise DataError(f"label {raw!r} is not a relevance of 0 or 1.", field="label", **where,
                    fix="write 1 for a relevant document and 0 for an irrelevant one.")


def read_query(record: Record, columns: dict[str, str], options: ReadOptions | None = None) -> Query:
    """One reranker row: a query with its documents, or one (query, document, label) pair (``pairs=True``).

    Raises:
        DataError: naming file, row and field.
    """
    options = options or ReadOptions()
    where = {"file": record.file, "row": record.row}
    fields = mapped_fields(record, columns)
    query = _query_text(fields, where)
    if "document" in fields or "text_pair" in fields:
        doc = _text(fields.get("document", fields.get("text_pair")), "document", where)
        relevant = _relevance(fields.get("label", fields.get("labels")), where)
        check_size(query, doc, None, where, options.max_row_chars)
        return Query(query, [doc] if relevant else [], [] if relevant else [doc], record.file, record.row,
                     dict(record.fields), pairs=True)
    if not any(k in fields for k in POSITIVE_KEYS):
        raise DataError(f"no documents; columns found: {sorted(fields)[:12]}.", field="positive", **where,
                        fix="give 'positive' and 'negative' lists, or 'document' + 'label' pairs (see "
                            "docs/reward_rerank.md).")
    positives = [d for k in POSITIVE_KEYS for d in _docs(fields.get(k), k, where)]
    negatives = [d for k in NEGATIVE_KEYS for d in _docs(fields.get(k), k, where)]
    check_size(query, "".join(positives + negatives), None, where, options.max_row_chars)
    return Query(query, positives, negatives, record.file, record.row, dict(record.fields))


def gather_pairs(queries: list[Query]) -> list[Query]:
    """Pair rows of the same query text merged into one query (at its first row); group rows kept as they are."""
    merged: dict[str, Query] = {}
    out = []
    for q in queries:
        if not q.pairs:
            out.append(q)
        elif q.query in merged:
            merged[q.query].positives += q.positives
            merged[q.query].negatives += q.negatives
        else:
            merged[q.query] = Query(q.query, list(q.positives), list(q.negatives), q.file, q.row, q.raw, True)
            out.append(merged[q.query])
    return out


def check_query(q: Query, need_negative: bool) -> None:
    """A query must have a relevant document (else nothing ranks); listwise training also needs an irrelevant one."""
    what = "rows of this query" if q.pairs else "this row"
    if not q.positives:
        raise DataError(f"query {q.query[:60]!r} has no relevant document ({what}).", field="positive", **q.where,
                        fix="give each query at least one positive document (label 1), or pass --skip_bad_rows.")
    if need_negative and not q.negatives:
        raise DataError(f"query {q.query[:60]!r} has no irrelevant document, which --loss listwise needs "
                        f"({what}).", field="negative", **q.where,
                        fix="add negative documents, use --loss pointwise, or pass --skip_bad_rows.")


def query_groups(q: Query, mode: str, max_negatives: int, rng: random.Random) -> list[list[Example]]:
    """The groups of Examples one query gives (group ids unset).

    Args:
        q: The query.
        mode: ``listwise``: one group per positive, with up to ``max_negatives`` negatives sampled without
            replacement (all of them when the query has fewer); ``pointwise``: one group of every positive and up to
            ``max_negatives`` negatives; ``eval``: one group of every document (what MRR/NDCG rank).
        max_negatives: ``--max_negative_samples``.
        rng: Sampling of the negatives.
    """
    def example(doc: str, relevant: bool) -> Example:
        return Example(q.query, doc, label=("float", 1.0 if relevant else 0.0), file=q.file, row=q.row, raw=q.raw)

    negatives = q.negatives
    if mode != "eval" and len(negatives) > max_negatives:
        negatives = rng.sample(negatives, max_negatives)
    if mode == "listwise":
        return [[example(p, True), *(example(n, False) for n in negatives)] for p in q.positives]
    return [[*(example(p, True) for p in q.positives), *(example(n, False) for n in negatives)]]
