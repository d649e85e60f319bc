"""rm and reranker rows: every accepted format, errors naming file/row/field, skipped rows, groups and splits."""

import random

import pytest
from helpers import write

from swiftcls.core.errors import DataError
from swiftcls.data.dataset import Example, parse_columns
from swiftcls.data.groups import load_units, make_groups, row_label, split_units
from swiftcls.data.readers import ReadOptions

OPTS = ReadOptions()


def rm_units(tmp_path, rows, columns=None, skip=False):
    return load_units("rm", [write(tmp_path / "rm.jsonl", rows)], OPTS, parse_columns(columns), skip)


def test_rm_formats_give_the_same_conversations(tmp_path):
    user, good, bad = {"role": "user", "content": "Q?"}, "Yes.", "No."
    rows = [{"prompt": "Q?", "chosen": good, "rejected": bad},
            {"messages": [user], "chosen": good, "rejected": bad},
            {"messages": [user, {"role": "assistant", "content": good}], "rejected_response": bad},
            {"prompt": [user], "chosen": [{"role": "assistant", "content": good}], "rejected": bad},
            {"question": "Q?", "good": good, "bad": bad, "m": 2}]
    units, _ = rm_units(tmp_path, rows[:4])
    mapped, _ = load_units("rm", [write(tmp_path / "m.jsonl", rows[4:])], OPTS,
                           parse_columns('{"question": "prompt", "good": "chosen", "bad": "rejected", "m": "margin"}'))
    for chosen, rejected in units + mapped:
        assert chosen.messages == [user, {"role": "assistant", "content": good}]
        assert rejected.messages == [user, {"role": "assistant", "content": bad}]
        assert (chosen.label, rejected.label) == (("float", 1.0), ("float", 0.0))
    assert mapped[0][0].margin == 2.0 and units[0][0].margin == 0.0


@pytest.mark.parametrize("row, field, message", [
    ({"prompt": "Q", "chosen": "a"}, "rejected", "missing 'rejected'"),
    ({"chosen": "a", "rejected": "b"}, "prompt", "no prompt"),
    ({"prompt": "Q", "chosen": "a", "rejected": "b", "margin": "big"}, "margin", "not a finite number"),
    ({"messages": [{"role": "user", "content": "Q"}], "rejected_response": "b"}, "messages", "ending with the chosen"),
    ({"prompt": "Q", "chosen": 3, "rejected": "b"}, "chosen", "must be a string"),
])
def test_bad_rm_rows_name_file_row_and_field(tmp_path, row, field, message):
    good = {"prompt": "Q", "chosen": "a", "rejected": "b"}
    with pytest.raises(DataError, match=message) as err:
        rm_units(tmp_path, [good, row])
    assert (err.value.file, err.value.row, err.value.field) == (str(tmp_path / "rm.jsonl"), 2, field)
    units, skipped = rm_units(tmp_path, [good, row, good], skip=True)  # --skip_bad_rows: recorded, not dropped
    assert len(units) == 2 and [(e.row, e.field) for e in skipped] == [(2, field)]


def rerank_units(tmp_path, rows, columns=None, skip=False):
    return load_units("reranker", [write(tmp_path / "rr.jsonl", rows)], OPTS, parse_columns(columns), skip)


def test_reranker_formats(tmp_path):
    turn = [{"role": "assistant", "content": "p1"}]
    rows = [{"query": "q", "positive": ["p1"], "negative": ["n1", "n2"]},
            {"query": "q", "response": "p1", "rejected_response": ["n1", "n2"]},
            {"messages": [{"role": "user", "content": "q"}], "positive_messages": [turn],
             "negative_messages": [[{"role": "assistant", "content": "n1"}], [{"role": "assistant", "content": "n2"}]]}]
    units, _ = rerank_units(tmp_path, rows)
    assert [(u.query, u.positives, u.negatives) for u in units] == [("q", ["p1"], ["n1", "n2"])] * 3
    pairs = [{"query": "a", "document": "x", "label": 1}, {"query": "b", "document": "y", "label": 0},
             {"query": "a", "document": "z", "label": "0"}, {"query": "b", "document": "w", "label": True}]
    units, _ = rerank_units(tmp_path, pairs)  # pair rows of one query are gathered, at the query's first row
    assert [(u.query, u.positives, u.negatives, u.row) for u in units] == [("a", ["x"], ["z"], 1),
                                                                          ("b", ["w"], ["y"], 2)]
    mapped, _ = rerank_units(tmp_path, [{"question": "a", "passage": "x", "rel": 1}],
                             '{"question": "query", "passage": "document", "rel": "label"}')
    assert (mapped[0].query, mapped[0].positives) == ("a", ["x"])


def test_bad_reranker_rows(tmp_path):
    with pytest.raises(DataError, match="label 2 is not a relevance of 0 or 1") as err:
        rerank_units(tmp_path, [{"query": "a", "document": "x", "label": 1}, {"query": "a", "document": "y",
                                                                           "label": 2}])
    assert (err.value.row, err.value.field) == (2, "label")
    units, _ = rerank_units(tmp_path, [{"query": "a", "positive": [], "negative": ["n"]},
                                       {"query": "b", "positive": ["p"]}])
    with pytest.raises(DataError, match="has no relevant document") as err:
        make_groups("reranker", units, "pointwise")
    assert (err.value.row, err.value.field) == (1, "positive")
    with pytest.raises(DataError, match="no irrelevant document, which --loss listwise needs") as err:
        make_groups("reranker", units[1:], "listwise")
    assert (err.value.row, err.value.field) == (2, "negative")
    skipped = []
    assert make_groups("reranker", units, "listwise", skipped=skipped) == [] and len(skipped) == 2
    assert [len(g) for g in make_groups("reranker", units[1:], "pointwise")] == [1]  # pointwise: no negative needed


def test_groups_ids_and_negative_sampling(tmp_path):
    units, _ = rerank_units(tmp_path, [{"query": "q", "positive": ["p1", "p2"], "negative": list("abcdefghij")},
                                       {"query": "r", "positive": ["p"], "negative": ["x"]}])
    listwise = make_groups("reranker", units, "listwise", max_negatives=3, first_id=10)
    # one group per positive with 3 sampled negatives; a query with fewer negatives keeps all of them
    assert [[row_label(ex) for ex in g] for g in listwise] == [
        [[1.0, 10.0, 0.0]] + [[0.0, 10.0, 0.0]] * 3, [[1.0, 11.0, 0.0]] + [[0.0, 11.0, 0.0]] * 3,
        [[1.0, 12.0, 0.0], [0.0, 12.0, 0.0]]]
    assert len({ex.text_pair for ex in listwise[0][1:]}) == 3
    assert [len(g) for g in make_groups("reranker", units, "pointwise", max_negatives=3)] == [5, 2]
    assert [len(g) for g in make_groups("reranker", units, "eval", max_negatives=3)] == [12, 2]  # all documents


def test_validation_split_keeps_pairs_and_queries_whole(tmp_path):
    rng = random.Random(0)
    rows = [{"query": f"q{i}", "positive": [f"p{i}"], "negative": [f"n{i}{j}" for j in range(rng.randint(1, 4))]}
            for i in range(20)]
    units, _ = rerank_units(tmp_path, rows)
    train, val = split_units(units, 0.25)
    assert len(val) == 5 and {u.query for u in train}.isdisjoint({u.query for u in val})
    groups = make_groups("reranker", val, "eval")
    assert all(len(g) == 1 + len(u.negatives) for g, u in zip(groups, val))


def test_rows_encode_as_pair_rows_and_messages_rows(tiny_model_dir):
    """The contract with serving: a reranker row is a text pair, an rm side is a SWIFT ``messages`` row."""
    from swiftcls.core.spec import spec_for_config
    from swiftcls.data.encode import PromptEncoder
    from swiftcls.data.preference import preference_pair
    from swiftcls.data.readers import Record
    from swiftcls.data.rerank import Query, query_groups
    from swiftcls.models.loading import load_tokenizer

    spec = spec_for_config("qwen2")
    encoder = PromptEncoder(load_tokenizer(str(tiny_model_dir("qwen2")), spec), spec, 64)
    [[doc]] = query_groups(Query("what is up", ["the sky"]), "eval", 7, random.Random(0))
    assert encoder.encode([doc]) == encoder.encode([Example("what is up", "the sky")])
    chosen, _ = preference_pair(Record({"prompt": "hi", "chosen": "hello", "rejected": "go"}, "f.jsonl", 1), {})
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert encoder.encode([chosen]) == encoder.encode([Example(None, messages=messages)])
