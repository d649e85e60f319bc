"""``examples/vllm_client.py``: the threshold vLLM does not apply, and the training max_length, without vLLM.

``swiftcls deploy`` answers the same ``/classify`` requests (it ignores ``truncate_prompt_tokens``), so the client
runs against it here; its predictions must equal the server's ``pred`` (what ``swiftcls infer`` writes).
"""

import importlib.util
import json
from pathlib import Path


def _example():
    path = Path(__file__).resolve().parents[2] / "examples" / "vllm_client.py"
    spec = importlib.util.spec_from_file_location("vllm_client", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_vllm_client_applies_the_saved_threshold_not_the_argmax(trained, live):
    client = _example()
    model, _ = trained("multi")  # trained with --threshold 0.3, exported
    settings = client.load_settings(model["model"])
    train = json.loads((Path(model["model"]) / "args.json").read_text())
    assert settings["threshold"] == 0.3 and settings["problem_type"] == "multi_label_classification"
    body = client.request_body("m", ["a prompt"], settings)
    assert body["truncate_prompt_tokens"] == train["max_length"]  # the training max_length
    # Two labels above the threshold: the client keeps both; vLLM's `label` would name only the first.
    assert len(settings["names"]) == 2
    response = {"data": [{"label": settings["names"][0], "probs": [0.9, 0.31]},
                         {"label": settings["names"][0], "probs": [0.29, 0.1]}]}
    assert client.predictions(response, settings) == [settings["names"], []]
    server = live("multi")
    texts = ["alpha beta good thing", "gamma delta bad thing", "omega red blue", "kappa"]
    got = client.classify(f"http://127.0.0.1:{server.port}", "tiny", texts, settings)
    expected = [d["pred"] for d in server.classify({"input": texts})[1]["data"]]
    assert got == expected
