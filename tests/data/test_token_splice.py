"""Token splices (swiftcls/data/token_splice.py) are built only where ``head + ids(piece) + tail`` equals the ids of
the whole prompt: a boundary token that strips whitespace, an added token that could match across a boundary, or a
tokenizer that does not split at special tokens gets none, and for each the ids would indeed differ."""

from tokenizers import Tokenizer, models
from transformers import AddedToken, PreTrainedTokenizerFast

from swiftcls.data.splice import Splice
from swiftcls.data.token_splice import build_token_splice

CHARS = "abcdefghijklmnopqrstuvwxyz <>/\n"
SPLICE = Splice("<sys>rate<end>\n<user>say ", "</s><bot>", None, (), frozenset())


def _tokenizer(*extra: AddedToken, lstrip: bool = False) -> PreTrainedTokenizerFast:
    """A character-level fast tokenizer with the splice's markers as special tokens (``</s>`` taking the whitespace
    before it with ``lstrip``), plus ``extra``."""
    vocab = {c: i for i, c in enumerate(CHARS)} | {"[UNK]": len(CHARS)}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.BPE(vocab, [], unk_token="[UNK]")))
    marks = [AddedToken(t, normalized=False, special=True, lstrip=lstrip and t == "</s>")
             for t in ("<sys>", "<end>", "<user>", "</s>", "<bot>")]
    tokenizer.add_special_tokens({"additional_special_tokens": [*marks, *extra]})
    return tokenizer


def _whole(tokenizer, text: str) -> list[int]:
    return tokenizer(SPLICE.prefix + text + SPLICE.suffix, add_special_tokens=False)["input_ids"]


def _spliced(tokenizer, text: str, lead: str = "say ", trail: str = "", head: str = "<sys>rate<end>\n<user>",
             tail: str = "</s><bot>") -> list[int]:
    """What a token splice cut at ``head``/``tail`` would give, built by hand (for the refused cases too)."""
    ids = tokenizer(lead + text + trail, add_special_tokens=False)["input_ids"]
    return [*tokenizer(head, add_special_tokens=False)["input_ids"], *ids,
            *tokenizer(tail, add_special_tokens=False)["input_ids"]]


def test_cut_at_the_last_special_token_of_the_prefix_and_the_first_of_the_suffix():
    tokenizer = _tokenizer()
    found = build_token_splice(tokenizer, SPLICE)
    assert found is not None
    assert (found.lead, found.trail) == ("say ", "")
    assert tokenizer.convert_ids_to_tokens(list(found.tail)) == ["</s>", "<bot>"]
    for text in ("", "a b ", " lead", "x</s>y<user>z", "new\nline\n", "<bot"):
        assert found.ids(tokenizer(found.piece(text), add_special_tokens=False)["input_ids"]) == \
            _whole(tokenizer, text), text


def test_no_splice_at_a_boundary_token_that_strips_whitespace():
    tokenizer = _tokenizer(lstrip=True)
    assert build_token_splice(tokenizer, SPLICE) is None
    # the space before </s> goes into the special token when the prompt is tokenized whole
    assert _spliced(tokenizer, "ab ") != _whole(tokenizer, "ab ")


def test_no_splice_when_an_added_token_could_match_across_a_boundary():
    tokenizer = _tokenizer(AddedToken("b</s>", normalized=False, special=True))
    assert build_token_splice(tokenizer, SPLICE) is None
    assert _spliced(tokenizer, "ab") != _whole(tokenizer, "ab")


def test_no_splice_when_special_tokens_are_not_split_out():
    tokenizer = _tokenizer()
    tokenizer.split_special_tokens = True
    assert build_token_splice(tokenizer, SPLICE) is None
    assert build_token_splice(_tokenizer(), None) is None
