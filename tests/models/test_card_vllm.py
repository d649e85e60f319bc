"""The model card's "Serving with vLLM" section: the request settings vLLM needs, and a threshold snippet that runs."""

import re

from swiftcls.core.labels import MULTI, SINGLE, LabelSpace
from swiftcls.models.card import vllm_notes


def test_vllm_notes_give_the_request_settings_and_a_working_threshold_snippet():
    notes = vllm_notes(LabelSpace(MULTI, ["red", "blue", "green"]),
                       {"max_length": 96, "chat_template_applied": True, "threshold": 0.3}, {"enable_thinking": False})
    assert "python -m vllm.entrypoints.openai.api_server --model MODEL_DIR --runner pooling" in notes
    assert "PackageNotFoundError: vllm" in notes
    assert "vLLM keeps the prompt's last tokens; training cut the text on the right" in notes
    assert '"truncate_prompt_tokens": 96' in notes and '"add_generation_prompt": true' in notes
    assert '"chat_template_kwargs": {"enable_thinking": false}' in notes
    snippet = re.search(r"```python\n(.*?)```", notes, re.S).group(1)
    scope = {"response": {"data": [{"label": "red", "probs": [0.9, 0.35, 0.1]}, {"label": "red", "probs": [0.2] * 3}]}}
    exec(snippet, scope)  # the card's own snippet: every label at or above the threshold, not vLLM's argmax
    assert scope["labels"] == [["red", "blue"], []]
    plain = vllm_notes(LabelSpace(SINGLE, ["a", "b"]), {"max_length": 64}, {})
    assert "add_generation_prompt" not in plain and "threshold" not in plain and "chat_template_kwargs" not in plain
    assert "score_template" not in plain and "score_template" not in notes
    one = vllm_notes(LabelSpace("regression", ["score"]), {"max_length": 64}, {})  # a reward model / reranker
    assert "`/score` and `/rerank`" in one and "--chat-template MODEL_DIR/score_template.jinja" in one
