"""``StreamedRows`` (--streaming) and ``LazyRows`` (--lazy_tokenize) yield the eager path's rows, in bounded memory."""

import gc
import json
import tracemalloc

import pytest
import torch
from helpers import make_rows, write
from tiny_models import tiny_tokenizer
from torch.utils.data import DataLoader

from swiftcls.core.errors import DataError
from swiftcls.core.labels import LabelSpace
from swiftcls.core.spec import spec_for_config
from swiftcls.data.collators import make_collator
from swiftcls.data.dataset import encode_labels, load_examples
from swiftcls.data.encode import PromptEncoder
from swiftcls.data.lazy import LazyRows
from swiftcls.data.readers import ReadOptions
from swiftcls.data.streaming import StreamedRows, StreamSource, scan_labels

SPACE = LabelSpace("single_label_classification", ["bad", "good"])


@pytest.fixture(scope="module")
def encoder():
    return PromptEncoder(tiny_tokenizer("qwen2"), spec_for_config("qwen2"), max_length=48)


def eager(path, encoder):
    examples, _ = load_examples([path], ReadOptions(), {})
    examples, labels = encode_labels(examples, SPACE)
    return [{**row, "labels": labels[i]} for i, row in zip(*encoder.encode_kept(examples))]


def stream(path, encoder, buffer=1, chunk=256):
    return StreamedRows(StreamSource([path], ReadOptions(), {}), SPACE, encoder.encode_kept, buffer, chunk=chunk)


def test_stream_yields_the_eager_rows_in_file_order_or_a_seeded_shuffle(tmp_path, encoder):
    path = write(tmp_path / "t.jsonl", make_rows(300, "single"))
    rows = eager(path, encoder)
    assert list(stream(path, encoder)) == rows
    shuffled = stream(path, encoder, buffer=64)
    first, again = list(shuffled), list(shuffled)
    shuffled.set_epoch(1)
    other = list(shuffled)
    key = sorted(rows, key=repr)
    assert first != rows and first == again and other != first  # seeded by epoch: every process agrees
    assert sorted(first, key=repr) == key and sorted(other, key=repr) == key  # nothing dropped or repeated


def test_label_pass_keeps_one_row_per_label(tmp_path):
    path = write(tmp_path / "t.jsonl", make_rows(200, "single") + [{"text": "x", "label": 3}])
    parsed, rows, bad = scan_labels([path], ReadOptions(), {}, skip_bad_rows=False, seed=0)
    assert rows == 201 and bad == 0 and sorted(p[1] for p in parsed if p[0] == "str") == ["bad", "good"]
    assert len(parsed) == 3 and parsed[-1][2]["row"] == 201


def _peak(fn) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_stream_memory_does_not_grow_with_the_file(tmp_path, encoder):
    small = write(tmp_path / "small.jsonl", make_rows(150, "single"))
    large = write(tmp_path / "large.jsonl", make_rows(600, "single", seed=1))

    def consume(path):
        return lambda: sum(len(r["input_ids"]) for r in stream(path, encoder, buffer=20, chunk=32))

    stream_growth = _peak(consume(large)) - _peak(consume(small))
    eager_growth = _peak(lambda: eager(large, encoder)) - _peak(lambda: eager(small, encoder))
    assert eager_growth > 300_000  # 450 more rows held as examples and token lists
    assert stream_growth < 0.1 * eager_growth, (stream_growth, eager_growth)


def test_lazy_rows_collate_to_the_eager_batches(tmp_path, encoder):
    path = write(tmp_path / "t.jsonl", make_rows(12, "single"))
    examples, _ = load_examples([path], ReadOptions(), {})
    examples, labels = encode_labels(examples, SPACE)
    lazy = LazyRows(examples, labels, encoder.encode_kept)
    rows = eager(path, encoder)
    assert len(lazy) == len(rows) and [lazy[i] for i in range(len(lazy))] == rows
    for packed in (False, True):
        collate = make_collator(packed, 151643)
        got, want = collate([lazy[i] for i in range(5)]), collate(rows[:5])
        assert got.keys() == want.keys()
        for key, value in want.items():
            assert torch.equal(got[key], value) if torch.is_tensor(value) else got[key] == value


def test_stream_rows_errors_name_the_row_or_are_written_when_met(tmp_path, encoder):
    rows = make_rows(40, "single")
    rows[29]["label"] = "ugly"  # passes the checks; only the label space (--labels bad,good) refuses it
    path = write(tmp_path / "t.jsonl", rows)
    with pytest.raises(DataError, match="unknown label 'ugly'") as err:
        list(stream(path, encoder))
    assert err.value.row == 30 and err.value.field == "label"
    report = tmp_path / "skipped_rows.jsonl"
    skipping = StreamedRows(StreamSource([path], ReadOptions(), {}, skip_bad_rows=True), SPACE, encoder.encode_kept,
                            1, str(report))
    assert len(list(skipping)) == 39 and len(list(skipping)) == 39
    assert [json.loads(line)["row"] for line in report.read_text().splitlines()] == [30]  # once, not per pass


def test_dataloader_workers_share_the_stream_without_repeats(tmp_path, encoder):
    path = write(tmp_path / "t.jsonl", make_rows(100, "single"))
    loader = DataLoader(stream(path, encoder, chunk=16), batch_size=None, num_workers=2)
    got = sorted((tuple(r["input_ids"]), r["labels"]) for r in loader)
    assert got == sorted((tuple(r["input_ids"]), r["labels"]) for r in eager(path, encoder))
