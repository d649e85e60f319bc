"""The label-name head equals the LM's own next-token logits at the label names' first answer tokens."""

import pytest
import torch
from tiny_models import make_tiny_model
from transformers import AutoModelForCausalLM

from swiftcls.core.errors import ConfigError
from swiftcls.core.labels import MULTI, SINGLE, LabelSpace
from swiftcls.core.prompt_template import DEFAULT_PROMPT, fill_labels
from swiftcls.core.spec import spec_for_config
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.inference.zero_shot import check_label_head, label_name_head
from swiftcls.models.loading import load_classifier

NAMES = ["negative", "positive", "neutral"]
TEXTS = ["a gripping, funny film", "dull , long and " * 6 + "pointless"]


def _lm_and_classifier_logits(model_dir, chat: bool, max_length: int = 256):
    spec = spec_for_config("llama")
    space = LabelSpace(SINGLE, NAMES)
    model, tokenizer, _ = load_classifier(str(model_dir), spec, space, torch_dtype="float32")
    encoder = PromptEncoder(tokenizer, spec, max_length, chat, prompt=fill_labels(DEFAULT_PROMPT, NAMES))
    ids = label_name_head(model, spec, str(model_dir), encoder, space)
    lm = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    got, expected = [], []
    with torch.no_grad():
        for row in encoder.encode([Example(t) for t in TEXTS]):
            x = torch.tensor([row["input_ids"]])
            got.append(model.eval()(input_ids=x).logits[0])
            expected.append(lm(x).logits[0, -1, ids])
    return torch.stack(got), torch.stack(expected), ids, tokenizer


@pytest.mark.parametrize("tied, chat", [(True, True), (False, False)])
def test_label_name_head_reproduces_the_lm_label_logits(tmp_path, tiny_model_dir, tied, chat):
    """Tied embeddings with the chat template (the answer follows the generation prompt), and a separate lm_head
    without one (the answer follows "...label only." after a space)."""
    model_dir = tiny_model_dir("llama")  # SmolLM2's config: tied embeddings; skips without the real Qwen tokenizer
    if not tied:
        model_dir = make_tiny_model("llama", tmp_path / "m", sizes={"tie_word_embeddings": False})
    got, expected, ids, tokenizer = _lm_and_classifier_logits(model_dir, chat)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert len(set(ids)) == 3
    for name, token in zip(NAMES, ids):  # the first token of each name, with a leading space only without chat
        piece = tokenizer.decode([token])
        assert piece.startswith(" ") != chat and name.startswith(piece.strip()), (name, piece)


def test_smollm2_label_name_head_is_its_answer(smollm2_dir):
    """Real weights: the classifier's logits are SmolLM2's next-token logits of 'negative' / 'positive' / 'neutral'
    after the chat template, and its softmax puts the LM's preferred label first."""
    got, expected, _, _ = _lm_and_classifier_logits(smollm2_dir, chat=True)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert got.argmax(-1).tolist() == expected.argmax(-1).tolist()


def test_label_names_need_a_single_label_decoder():
    with pytest.raises(ConfigError, match="needs a decoder LLM.*'bert' is an encoder"):
        check_label_head(spec_for_config("bert"), LabelSpace(SINGLE, NAMES))
    with pytest.raises(ConfigError, match="single-label"):
        check_label_head(spec_for_config("llama"), LabelSpace(MULTI, NAMES))
