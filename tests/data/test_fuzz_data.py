"""Property: whatever a JSONL file holds, reading and validating it either works or raises a SwiftClsError."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swiftcls.core.errors import SwiftClsError
from swiftcls.core.labels import LabelSpace
from swiftcls.data.dataset import encode_labels, load_examples
from swiftcls.data.readers import ReadOptions

KEYS = st.sampled_from(["text", "label", "labels", "query", "text_pair", "messages", "images", "sentence1", "x"])
SCALARS = (st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.integers() | st.floats()
           | st.text(max_size=12) | st.sampled_from(["pos", "neg", "1.5", "nan", "8,20", " ", "", "0", "-1"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=5),
                                                                                            inner, max_size=3),
                      max_leaves=8)
ROWS = st.dictionaries(KEYS | st.text(max_size=6), VALUES, max_size=5)


def json_line(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


LINES = st.one_of(
    ROWS.map(json_line),  # objects with likely and unlikely keys and values
    VALUES.map(json_line),  # any JSON value, not only objects
    st.binary(max_size=40),  # arbitrary bytes: broken UTF-8, stray newlines, BOMs, NULs
    st.sampled_from([b'{"text": "a", "label": ' + b"9" * 5000 + b"}", b"[" * 3000 + b"]" * 3000, b"\xef\xbb\xbf{}",
                     b'{"text": "a", "label": NaN}', b'{"text": "a", "label": -Infinity}', b"\xff\xfe{", b"{",
                     b'{"text": "ok", "label": 123456789012}']),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, min_size=0, max_size=6), skip=st.booleans(), require_label=st.booleans())
def test_random_jsonl_raises_only_swiftcls_errors(tmp_path, lines, skip, require_label):
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(b"\n".join(lines))
    try:
        examples, _ = load_examples([str(path)], ReadOptions(), {}, require_label=require_label, skip_bad_rows=skip)
        labelled = [(*ex.label, ex.where) for ex in examples if ex.label is not None]
        space = LabelSpace.infer(labelled)
        encode_labels([ex for ex in examples if ex.label is not None], space, skip_bad_rows=skip)
    except SwiftClsError:
        pass


CELLS = st.text(alphabet=st.sampled_from(list('ab ,"\t\n\r\\\ufeff1.5-') + ["é", "\x00"]), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.sampled_from(["text,label", "label,text", "text", "a,b,c", ""]),
       lines=st.lists(st.lists(CELLS, max_size=4).map(",".join), max_size=6), quoting=st.sampled_from(["auto", "none"]),
       skip=st.booleans())
def test_random_csv_raises_only_swiftcls_errors(tmp_path, header, lines, quoting, skip):
    path = tmp_path / "fuzz.csv"
    path.write_text("\n".join([header, *lines]), encoding="utf-8")
    try:
        examples, _ = load_examples([str(path)], ReadOptions(quoting=quoting), {}, skip_bad_rows=skip)
        LabelSpace.infer([(*ex.label, ex.where) for ex in examples])
    except SwiftClsError:
        pass
