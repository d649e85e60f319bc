"""``swiftcls export --to onnx`` and ``--infer_backend onnxruntime``: the graph scores what PyTorch scores.

Tiny runs (a LoRA decoder, a fully fine-tuned BERT encoder with token type ids) are trained
a few steps, exported once to float32 ONNX, and compared with swiftcls's PyTorch path on padded batches of mixed
lengths; int8 and the refusals are checked on the same runs.
"""

import json

import numpy as np
import onnx
import pytest
from fastapi.testclient import TestClient
from helpers import make_rows, sft, write

from swiftcls import Classifier, DeployArguments, ExportArguments, export_main, infer_main
from swiftcls.core.errors import ConfigError
from swiftcls.models.onnx import OnnxModel
from swiftcls.serve.app import create_app

# run -> (rows kind, family, tuner)
RUNS = {"decoder": ("single", "qwen2", "lora"), "encoder": ("single", "bert", "full")}
LONG = "a much longer text so that the batch is padded: " + " ".join(["alpha beta gamma delta"] * 6)


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    """``get(name) -> dict`` with the checkpoint flags, validation file, texts and the fp32 ONNX export."""
    cache = {}

    def get(name):
        if name not in cache:
            kind, family, tuner = RUNS[name]
            root = tmp_path_factory.mktemp(f"onnx-{name}")
            val_rows = make_rows(12, kind, seed=1)
            ckpt = sft(["--model", str(tiny_model_dir(family)), "--dataset",
                        write(root / "train.jsonl", make_rows(32, kind)), "--tuner_type", tuner, "--lora_rank", "4",
                        "--learning_rate", "5e-3", "--max_steps", "2", "--per_device_train_batch_size", "16",
                        "--output_dir", str(root / "run"), "--use_cpu", "true", "--eval_strategy", "no",
                        "--logging_steps", "1"])["last_model_checkpoint"]
            source = {"adapters": ckpt} if tuner == "lora" else {"model": ckpt}
            out = export_main({**source, "to": "onnx", "output_dir": str(root / "onnx")})
            cache[name] = {"source": source, "val": write(root / "val.jsonl", val_rows), "root": root,
                           "texts": [r["text"] for r in val_rows] + ["a", LONG], "onnx": out}
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(RUNS))
def test_onnx_probabilities_equal_pytorch(runs, name):
    run = runs(name)
    torch_clf = Classifier.from_pretrained(device="cpu", **({"path": run["source"]["model"]} if "model" in
                                                             run["source"] else run["source"]))
    onnx_clf = Classifier.from_pretrained(run["onnx"], infer_backend="onnxruntime")
    assert isinstance(onnx_clf.model, OnnxModel)
    assert onnx_clf.labels == torch_clf.labels and onnx_clf.problem_type == torch_clf.problem_type
    expected = torch_clf.predict_proba(run["texts"], batch_size=5)
    got = onnx_clf.predict_proba(run["texts"], batch_size=5)  # padded batches of mixed lengths
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert onnx_clf.predict(run["texts"]) == torch_clf.predict(run["texts"])


def test_export_folder_holds_the_graph_not_the_weights(runs):
    run = runs("encoder")
    folder = run["root"] / "onnx"
    names = {p.name for p in folder.iterdir()}
    assert {"model.onnx", "config.json", "args.json", "README.md", "tokenizer.json"} <= names
    assert not any(n.endswith(".safetensors") for n in names)
    assert [n for n in names if n.endswith(".onnx")] == ["model.onnx"]  # no traced/fused stage left behind
    config = json.loads((folder / "config.json").read_text())
    assert config["swiftcls_onnx"] == {"file": "model.onnx", "quantize": "none",
                                      "inputs": ["input_ids", "attention_mask", "token_type_ids"]}
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert json.loads((folder / "args.json").read_text())["export"]["to"] == "onnx"
    card = (folder / "README.md").read_text()
    assert "--infer_backend onnxruntime" in card and "float32" in card


def test_infer_cli_and_deploy_run_on_onnxruntime(runs, tmp_path):
    run = runs("decoder")
    paths = {b: tmp_path / f"{b}.jsonl" for b in ("pt", "onnxruntime")}
    infer_main({**run["source"], "dataset": [run["val"]], "result_path": str(paths["pt"]), "device": "cpu"})
    summary = infer_main(["--model", run["onnx"], "--dataset", run["val"], "--result_path",
                          str(paths["onnxruntime"]), "--infer_backend", "onnxruntime", "--batch_size", "4"])
    pt, ort = ([json.loads(line) for line in p.read_text().splitlines()] for p in paths.values())
    assert [r["pred"] for r in ort] == [r["pred"] for r in pt] and len(ort) == 12
    for a, b in zip(ort, pt):
        assert a["probs"] == pytest.approx(b["probs"], abs=1e-4)
    assert summary["metrics"]["accuracy"] == pytest.approx(np.mean([r["pred"] == r["label"] for r in ort]))

    args = DeployArguments(model=run["onnx"], infer_backend="onnxruntime", port=0)
    with TestClient(create_app(Classifier.from_args(args), args, "tiny")) as client:
        reply = client.post("/classify", json={"input": [r["text"] for r in pt]})
    assert reply.status_code == 200
    served = [item["probs"] for item in reply.json()["data"]]
    # /classify's probs are in label-id order, as the result file's probs dict
    np.testing.assert_allclose(served, [list(r["probs"].values()) for r in pt], atol=1e-4)


def test_int8_export_is_smaller_and_keeps_predictions(runs):
    run = runs("encoder")
    out = export_main({**run["source"], "to": "onnx", "onnx_quantize": "int8",
                       "output_dir": str(run["root"] / "int8")})
    fp32_size = (run["root"] / "onnx" / "model.onnx").stat().st_size
    assert (run["root"] / "int8" / "model.onnx").stat().st_size < 0.5 * fp32_size
    assert json.loads((run["root"] / "int8" / "config.json").read_text())["swiftcls_onnx"]["quantize"] == "int8"
    fp32 = Classifier.from_pretrained(run["onnx"], infer_backend="onnxruntime").predict_proba(run["texts"])
    int8 = Classifier.from_pretrained(out, infer_backend="onnxruntime").predict_proba(run["texts"])
    assert np.abs(int8 - fp32).max() < 0.05  # quantization error, not a different model


def _graph(folder) -> tuple[set[str], list]:
    model = onnx.load(str(folder / "model.onnx"))
    return {n.op_type for n in model.graph.node}, list(model.graph.initializer)


def test_bert_graph_is_fused_and_int8_weights_are_per_channel(runs):
    """The bert template's onnx_fusion: onnxruntime's fused kernels in the float32 graph (equal probabilities:
    test_onnx_probabilities_equal_pytorch), whole attention blocks quantized in int8, one scale per output channel."""
    run = runs("encoder")
    ops, _ = _graph(run["root"] / "onnx")
    assert {"Attention", "SkipLayerNormalization", "EmbedLayerNormalization"} <= ops
    out = export_main({**run["source"], "to": "onnx", "onnx_quantize": "int8",
                       "output_dir": str(run["root"] / "int8-fused")})
    ops, weights = _graph(run["root"] / "int8-fused")
    assert {"QAttention", "MatMulInteger"} <= ops and "Attention" not in ops
    scales = [w for w in weights if w.name.endswith("_scale") and w.data_type == onnx.TensorProto.FLOAT]
    assert scales and max(int(np.prod(w.dims)) for w in scales) > 1  # per output channel, not one per tensor
    assert sorted(p.name for p in (run["root"] / "int8-fused").glob("*.onnx")) == ["model.onnx"]
    assert Classifier.from_pretrained(out, infer_backend="onnxruntime").predict(run["texts"])


def test_decoder_int8_scales_the_templates_per_token_projections_per_token(runs):
    """qwen2's template names ``down_proj`` in onnx_int8_per_token (its inputs carry outliers in a few tokens:
    SmolLM2 lost 16 accuracy points on SST-2 with one scale per batch): those products become a per-token int8
    subgraph (ReduceMax scales, u8 x s8 MatMulInteger), the others onnxruntime's dynamic int8."""
    run = runs("decoder")
    out = export_main({**run["source"], "to": "onnx", "onnx_quantize": "int8",
                       "output_dir": str(run["root"] / "int8-decoder")})
    nodes = onnx.load(str(run["root"] / "int8-decoder" / "model.onnx")).graph.node
    down = [n for n in nodes if "/down_proj/" in n.name]
    up = [n for n in nodes if "/up_proj/" in n.name]
    assert down and {"ReduceMax", "MatMulInteger"} <= {n.op_type for n in down} and "MatMul" not in {
        n.op_type for n in down}
    assert up and "MatMul" not in {n.op_type for n in up} and "ReduceMax" not in {n.op_type for n in up}
    fp32 = Classifier.from_pretrained(run["onnx"], infer_backend="onnxruntime").predict_proba(run["texts"])
    int8 = Classifier.from_pretrained(out, infer_backend="onnxruntime").predict_proba(run["texts"])
    assert np.abs(int8 - fp32).max() < 0.05


def test_decoder_graph_without_onnx_fusion_is_exported_as_traced(runs):
    ops, _ = _graph(runs("decoder")["root"] / "onnx")  # qwen2's template names no onnx_fusion
    assert "MatMul" in ops and not ops & {"Attention", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization"}


def test_refusals_say_what_to_do(runs, tiny_vl_dir, tmp_path):
    run = runs("decoder")
    with pytest.raises(ConfigError, match="needs an ONNX export.*--to onnx"):
        Classifier.from_pretrained(adapters=run["source"]["adapters"], infer_backend="onnxruntime")
    with pytest.raises(ConfigError, match="has no model.onnx.*--to onnx"):  # a plain (safetensors) checkpoint
        Classifier.from_pretrained(runs("encoder")["source"]["model"], infer_backend="onnxruntime")
    with pytest.raises(ConfigError, match="--onnx_quantize int8 applies to --to onnx only"):
        ExportArguments(model="m", output_dir=str(tmp_path / "x"), onnx_quantize="int8")
    with pytest.raises(ConfigError, match="vllm serve"):
        DeployArguments(model=run["onnx"], infer_backend="vllm")
    with pytest.raises(ConfigError, match="covers text models"):
        export_main({"model": str(tiny_vl_dir("qwen2_vl")), "to": "onnx", "output_dir": str(tmp_path / "vl")})
    assert not (tmp_path / "vl").exists()


def test_an_int8_export_that_quantized_nothing_is_an_error(runs, monkeypatch, tmp_path):
    """Weights traced as Constant nodes are invisible to onnxruntime's quantizer: the file would be float32 under an
    int8 name (seen with a deep-copied SmolLM2). Stand-in: a quantizer that copies the graph unchanged."""
    import shutil

    import onnxruntime.quantization

    monkeypatch.setattr(onnxruntime.quantization, "quantize_dynamic",
                        lambda source, target, **_: shutil.copyfile(source, target))
    with pytest.raises(ConfigError, match="quantized no matrix product"):
        export_main({**runs("encoder")["source"], "to": "onnx", "onnx_quantize": "int8",
                     "output_dir": str(tmp_path / "int8")})
    assert not (tmp_path / "int8").exists()


def test_a_family_the_onnx_exporter_cannot_trace_is_refused_with_what_to_use(tiny_model_dir, tmp_path):
    """Mixture-of-Experts routing runs aten::histc, which torch's ONNX exporter cannot express: a clear refusal
    instead of the exporter's traceback (it was one)."""
    ckpt = sft(["--model", str(tiny_model_dir("qwen3_moe")), "--dataset", write(tmp_path / "t.jsonl",
               make_rows(8, "single")), "--tuner_type", "lora", "--lora_rank", "4", "--max_steps", "1", "--use_cpu",
               "true", "--output_dir", str(tmp_path / "run"), "--eval_strategy", "no"])["last_model_checkpoint"]
    with pytest.raises(ConfigError, match="cannot express.*aten::histc.*to hf"):
        export_main({"adapters": ckpt, "to": "onnx", "output_dir": str(tmp_path / "onnx")})
    assert not (tmp_path / "onnx").exists()
