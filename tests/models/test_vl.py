"""Qwen2-VL / Qwen2.5-VL / Qwen3-VL / Qwen3.5 image+text classifiers on tiny random models (real Qwen tokenizer)."""

import json
import random
from pathlib import Path

import pytest
import torch
from helpers import write_png_bomb, write_textile
from PIL import Image

from swiftcls import InferArguments, ModelArguments, export_main, infer_main, sft_main
from swiftcls.core.errors import ConfigError, DataError
from swiftcls.core.labels import LabelSpace
from swiftcls.core.spec import spec_for_config
from swiftcls.data.collators import Collator
from swiftcls.data.dataset import Example
from swiftcls.data.encode import PromptEncoder
from swiftcls.models.loading import load_classifier
from swiftcls.models.pooling import classifier_logits, last_token_index
from swiftcls.models.registry import known_models
from swiftcls.models.trained import load_trained
from swiftcls.models.tuners import apply_lora
from swiftcls.training.trainer import write_args

SPACE = LabelSpace("single_label_classification", ["nominal", "local", "global"])
FAMILIES = ["qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_5"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Three small synthetic images (different content and sizes) and a data folder to hold rows."""
    folder = tmp_path_factory.mktemp("vl-data")
    rng = random.Random(0)
    for name, size in (("a.png", (64, 48)), ("b.png", (64, 48)), ("c.png", (90, 60))):
        img = Image.new("RGB", size)
        img.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(size[0] * size[1])])
        img.save(folder / name)
    return folder


def load(model_dir, family):
    torch.manual_seed(0)
    spec = spec_for_config(family)
    model, tokenizer, new = load_classifier(str(model_dir), spec, SPACE, torch_dtype="float32")
    return model.eval(), tokenizer, spec, new


def rows(folder, *specs):
    """Examples whose data file sits in ``folder``: each spec is (text, [image names])."""
    return [Example(text, images=list(imgs), file=str(folder / "data.jsonl"), row=i + 1)
            for i, (text, imgs) in enumerate(specs)]


def batch(tokenizer, spec, examples, pad_side="right"):
    encoder = PromptEncoder(tokenizer, spec, max_length=512)
    return Collator(tokenizer.pad_token_id, pad_side, image_processor=encoder.image_processor)(
        encoder.encode(examples))


@pytest.mark.parametrize("family", FAMILIES)
def test_pooled_state_equals_hand_computed_reference(tiny_vl_dir, images, family):
    model, tokenizer, spec, new = load(tiny_vl_dir(family), family)
    assert new == ["score"] and not any("lm_head" in n for n, _ in model.named_parameters())
    examples = rows(images, ("<image>Is this fabric defective?", ["a.png"]), ("plain text row, no image", []),
                    ("two images", ["b.png", "c.png"]))
    inputs = batch(tokenizer, spec, examples)
    pad_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert inputs["image_grid_thw"].shape == (3, 3) and (inputs["input_ids"] == pad_id).sum() == sum(
        int(g.prod()) // 4 for g in inputs["image_grid_thw"])
    with torch.no_grad():
        logits = classifier_logits(model, inputs)
        mm_types = (inputs["input_ids"] == pad_id).int()
        # The class's own forward (transformers' for Qwen3.5, which pools its full-sequence logits).
        reference = type(model).forward(model, **inputs, mm_token_type_ids=mm_types).logits
        hidden = model.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                             pixel_values=inputs["pixel_values"], image_grid_thw=inputs["image_grid_thw"],
                             mm_token_type_ids=mm_types).last_hidden_state
        last = [int(m.nonzero().max()) for m in inputs["attention_mask"]]
        by_hand = model.score(torch.stack([hidden[b, i] for b, i in enumerate(last)]))
        left = classifier_logits(model, batch(tokenizer, spec, examples, "left"))
        alone = torch.cat([classifier_logits(model, batch(tokenizer, spec, [ex])) for ex in examples])
    assert last == last_token_index(inputs["attention_mask"]).tolist()
    torch.testing.assert_close(logits, by_hand, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(reference, by_hand, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(alone, logits, atol=1e-4, rtol=1e-3)  # text-only row unaffected by its batch
    torch.testing.assert_close(left, logits, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_image_reaches_the_classifier(tiny_vl_dir, images, family):
    model, tokenizer, spec, _ = load(tiny_vl_dir(family), family)
    with torch.no_grad():
        a, b = (classifier_logits(model, batch(tokenizer, spec, rows(images, ("<image>defect?", [name]))))
                for name in ("a.png", "b.png"))
    assert a.shape == (1, 3) and not torch.allclose(a, b, atol=1e-4)


def test_lora_targets_the_language_model_only(tiny_vl_dir):
    model, _, spec, new = load(tiny_vl_dir("qwen2_5_vl"), "qwen2_5_vl")
    names = [n for n, _ in apply_lora(model, spec, new).named_parameters() if "lora_A" in n]
    assert names and not any(".visual." in n for n in names)
    assert any("language_model.layers.0.mlp.down_proj" in n for n in names)
    model, _, spec, new = load(tiny_vl_dir("qwen2_5_vl"), "qwen2_5_vl")
    names = [n for n, _ in apply_lora(model, spec, new, freeze_vit=False).named_parameters() if "lora_A" in n]
    assert any(".visual.blocks.0.mlp.down_proj" in n for n in names)
    assert not any(".visual.merger." in n for n in names)


@pytest.mark.parametrize("family", FAMILIES)
def test_lora_round_trip_restores_identical_logits(tiny_vl_dir, images, tmp_path, family):
    model_dir = tiny_vl_dir(family)
    model, tokenizer, spec, new = load(model_dir, family)
    model = apply_lora(model, spec, new)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.5)
    model.eval()
    examples = rows(images, ("<image>defect?", ["a.png"]), ("text only", []))
    with torch.no_grad():
        before = classifier_logits(model, batch(tokenizer, spec, examples))
    ckpt = tmp_path / "checkpoint-1"
    model.save_pretrained(ckpt)
    write_args(str(ckpt), {"model_dir": str(model_dir), "problem_type": SPACE.problem_type,
                           "label_names": SPACE.names, "max_length": 512})
    torch.manual_seed(123)
    loaded, tok2, spec2, _, _ = load_trained(None, str(ckpt), ModelArguments(torch_dtype="float32"))
    with torch.no_grad():
        after = classifier_logits(loaded, batch(tok2, spec2, examples))
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-4)

    # Export (LoRA merged) in the layout vLLM's *ForSequenceClassification reads, then load it back.
    from safetensors import safe_open

    out = tmp_path / "export"
    export_main({"torch_dtype": "float32", "adapters": str(ckpt), "output_dir": str(out)})
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    head, other = "score.weight", "language_model.score.weight"  # where vLLM looks, per family
    head, other = (other, head) if spec.vllm_head_prefix else (head, other)
    assert head in keys and other not in keys
    assert not any("lora_" in k or "lm_head" in k for k in keys)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == [spec.classifier] and config["id2label"]["2"] == "global"
    assert (out / "preprocessor_config.json").is_file()
    exported, tok3, spec3, space3, _ = load_trained(str(out), None, ModelArguments(torch_dtype="float32"))
    with torch.no_grad():
        again = classifier_logits(exported, batch(tok3, spec3, examples))
    assert space3 == SPACE
    torch.testing.assert_close(again, before, atol=1e-4, rtol=1e-4)


def test_bad_images_name_file_row_field_and_path(tiny_vl_dir, images, tiny_model_dir):
    _, tokenizer, spec, _ = load(tiny_vl_dir("qwen2_vl"), "qwen2_vl")
    (images / "broken.jpg").write_bytes(b"not an image")
    encoder = PromptEncoder(tokenizer, spec)
    for name, message in (("missing.png", "image not found"), ("broken.jpg", "cannot read image")):
        with pytest.raises(DataError, match=message) as err:
            encoder.encode(rows(images, ("ok", []), ("x", [name])))
        assert err.value.row == 2 and err.value.field == "images" and name in str(err.value)
        assert str(images / "data.jsonl") in str(err.value)
    qwen2 = spec_for_config("qwen2")
    _, text_tokenizer, _ = load_classifier(str(tiny_model_dir("qwen2")), qwen2, SPACE)
    with pytest.raises(ConfigError, match="text-only"):
        PromptEncoder(text_tokenizer, qwen2).encode(rows(images, ("x", ["a.png"])))


def test_csv_image_column_and_mixed_rows(tiny_vl_dir, images):
    from swiftcls.data.dataset import load_examples, parse_columns
    from swiftcls.data.readers import ReadOptions

    (images / "rows.csv").write_text("path,question,label\na.png,is it broken?,local\n,no image here,nominal\n")
    examples, _ = load_examples([str(images / "rows.csv")], ReadOptions(),
                                parse_columns('{"path": "images", "question": "text"}'))
    assert [ex.images for ex in examples] == [["a.png"], []]
    _, tokenizer, spec, _ = load(tiny_vl_dir("qwen2_vl"), "qwen2_vl")
    inputs = batch(tokenizer, spec, examples)
    assert inputs["image_grid_thw"].shape == (1, 3) and inputs["input_ids"].shape[0] == 2


def test_vit_lr_gets_its_own_param_group(tiny_vl_dir, tmp_path):
    from transformers import TrainingArguments

    from swiftcls.models.tuners import freeze_vision
    from swiftcls.training.losses import LossConfig
    from swiftcls.training.trainer import SeqClsTrainer

    model, tokenizer, spec, _ = load(tiny_vl_dir("qwen2_vl"), "qwen2_vl")
    freeze_vision(model, spec, freeze_vit=False, freeze_aligner=True)
    assert not any(p.requires_grad for n, p in model.named_parameters() if ".merger." in n)
    trainer = SeqClsTrainer(model=model, args=TrainingArguments(str(tmp_path), learning_rate=1e-4, use_cpu=True),
                            spec=spec, loss_config=LossConfig(SPACE.problem_type), vit_lr=1e-6, head_lr=1e-2)
    groups = trainer.create_optimizer().param_groups
    by_lr = {}
    for g in groups:  # decay / no-decay groups share a learning rate
        by_lr[g["lr"]] = by_lr.get(g["lr"], 0) + sum(p.numel() for p in g["params"])
    vit = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and n.startswith("model.visual."))
    assert by_lr[1e-6] == vit and by_lr[1e-2] == model.score.weight.numel() and 1e-4 in by_lr


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_checkpoint_layout_and_vllm_head_key(tiny_vl_dir, tmp_path, family):
    from safetensors.torch import load_file, save_file

    model, _, spec, _ = load(tiny_vl_dir(family), family)
    model.save_pretrained(tmp_path / "full")
    state = load_file(tmp_path / "full" / "model.safetensors")
    assert "score.weight" in state and not any(k.startswith("lm_head") for k in state)
    # Qwen2/2.5-VL are written back in the hub's key format; the Qwen3 families' hub format is the module layout.
    vision, text = (("visual.", "model.layers.") if family in ("qwen2_vl", "qwen2_5_vl")
                    else ("model.visual.", "model.language_model.layers."))
    assert any(k.startswith(vision) for k in state) and any(k.startswith(text) for k in state)
    config = json.loads((tmp_path / "full" / "config.json").read_text())
    assert config["architectures"] == [spec.classifier]
    state["language_model.score.weight"] = state.pop("score.weight")  # where vLLM's adapter keeps the head
    save_file(state, tmp_path / "full" / "model.safetensors", metadata={"format": "pt"})
    loaded, info = type(model).from_pretrained(tmp_path / "full", output_loading_info=True)
    assert not any(info.values()) and torch.equal(loaded.score.weight, model.score.weight)


def test_short_names_resolve():
    names = known_models()
    assert names["qwen2-vl-7b"] == names["qwen2-vl-7b-instruct"] == "Qwen/Qwen2-VL-7B-Instruct"
    assert names["qwen2.5-vl-7b-instruct"] == "Qwen/Qwen2.5-VL-7B-Instruct"


@pytest.mark.slow
def test_learns_textile_defects_from_images(tiny_vl_dir, shared, tmp_path):
    # A random 2-layer model must learn vision from scratch: 4 tokens (56x56 px) per image, ViT and merger trained.
    train, test = write_textile(shared, tmp_path, per_class=300)
    out = tmp_path / "out"
    summary = sft_main([
        "--model", str(tiny_vl_dir("qwen2_vl")), "--dataset", train, "--tuner_type", "full",
        "--freeze_vit", "false", "--freeze_aligner", "false", "--learning_rate", "3e-4", "--head_lr", "1e-2",
        "--num_train_epochs", "8", "--per_device_train_batch_size", "16", "--max_pixels", str(4 * 28 * 28),
        "--min_pixels", str(4 * 28 * 28), "--output_dir", str(out), "--use_cpu", "true", "--warmup_ratio", "0.1",
        "--logging_steps", "10", "--torch_dtype", "float32", "--eval_strategy", "no", "--save_strategy", "no"])
    result = tmp_path / "pred.jsonl"
    metrics = infer_main(InferArguments(torch_dtype="float32", model=summary["last_model_checkpoint"], dataset=[test],
                                        result_path=str(result), device="cpu"))
    first = json.loads(result.read_text().splitlines()[0])
    assert Path(first["images"][0]).is_file() and first["pred"] in SPACE.names
    assert metrics["metrics"]["accuracy"] > 1 / 3 + 0.08, metrics["metrics"]  # 3 balanced classes


def test_lora_sft_then_infer_with_adapters(tiny_vl_dir, shared, tmp_path):
    train, test = write_textile(shared, tmp_path, per_class=12)
    pixels = str(4 * 28 * 28)
    ckpt = sft_main([
        "--model", str(tiny_vl_dir("qwen2_vl")), "--dataset", train, "--tuner_type", "lora", "--max_steps", "2",
        "--per_device_train_batch_size", "8", "--max_pixels", pixels, "--min_pixels", pixels, "--use_cpu", "true",
        "--output_dir", str(tmp_path / "out"), "--eval_strategy", "no", "--torch_dtype", "float32",
    ])["last_model_checkpoint"]
    assert (Path(ckpt) / "adapter_model.safetensors").is_file()
    result = tmp_path / "pred.jsonl"
    scored = infer_main(InferArguments(torch_dtype="float32", dataset=[test], adapters=ckpt, result_path=str(result),
                                       device="cpu"))
    rows = [json.loads(line) for line in result.read_text().splitlines()]
    assert len(rows) == scored["rows"] and all(r["pred"] in SPACE.names for r in rows)
    assert 0.0 <= scored["metrics"]["accuracy"] <= 1.0


def test_token_count_matches_the_processor_without_computing_patches(tiny_vl_dir, tmp_path):
    from swiftcls.data.images import image_tokens, process_images

    rng = random.Random(1)
    for family in ("qwen2_vl", "qwen3_vl"):  # 14- and 16-pixel patches
        _, tokenizer, _, _ = load(tiny_vl_dir(family), family)
        processor = tokenizer.image_processor
        for i in range(6):
            size = (rng.randint(20, 400), rng.randint(20, 400))
            path = tmp_path / f"{family}-{i}.png"
            Image.new("RGB", size, (i * 40, 0, 0)).save(path)
            grid = process_images(processor, [Image.open(path).convert("RGB")])["image_grid_thw"]
            assert image_tokens(processor, path, {}) == int(grid.prod()) // processor.merge_size ** 2, size


def test_bad_image_rows_are_skipped_and_reported(tiny_vl_dir, images, tmp_path):
    (images / "broken.jpg").write_bytes(b"not an image")
    Image.new("RGB", (4000, 10)).save(images / "strip.png")  # aspect ratio 400:1, refused by the resize rule
    write_png_bomb(images / "bomb.png")  # 400 megapixels in 48 KB
    good = [{"text": "<image>defect?", "images": [n], "label": lab} for n, lab in
            (("a.png", "local"), ("b.png", "nominal"), ("c.png", "global"))] * 3
    bad = [{"text": "<image>x", "images": ["missing.png"], "label": "local"},
           {"text": "<image>y", "images": ["broken.jpg"], "label": "local"},
           {"text": "<image>z", "images": ["strip.png"], "label": "local"},
           {"text": "<image>w", "images": ["bomb.png"], "label": "local"}]
    data = images / "with_bad.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in good[:4] + bad + good[4:]))
    # --lazy_tokenize false: every image is checked before training (lazily, only the rows training reaches are:
    # tests/commands/test_row_modes.py).
    with pytest.raises(DataError, match="image not found") as err:
        _sft_vl(tiny_vl_dir("qwen2_vl"), tmp_path / "strict", str(data), "--max_steps", "1", "--lazy_tokenize", "false")
    assert err.value.row == 5 and not any((tmp_path / "strict").glob("checkpoint-*"))
    _sft_vl(tiny_vl_dir("qwen2_vl"), tmp_path / "out", str(data), "--max_steps", "1", "--skip_bad_rows", "true",
            "--lazy_tokenize", "false")
    skipped = [json.loads(line) for line in (tmp_path / "out" / "skipped_rows.jsonl").read_text().splitlines()]
    assert [(s["row"], s["field"]) for s in skipped] == [(5, "images"), (6, "images"), (7, "images"), (8, "images")]
    assert "not found" in skipped[0]["error"] and "broken.jpg" in skipped[1]["error"]
    assert "aspect ratio" in skipped[2]["error"] and "too large to decode safely" in skipped[3]["error"]


def test_over_long_image_rows_lose_text_never_image_tokens(tiny_vl_dir, images):
    _, tokenizer, spec, _ = load(tiny_vl_dir("qwen2_vl"), "qwen2_vl")
    pad_id = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    long_text = " ".join(["woven cotton with a visible slub"] * 60)
    example = rows(images, (f"{long_text} <image> is the second image worse? <image> {long_text}",
                            ["a.png", "c.png"]))
    full = PromptEncoder(tokenizer, spec, max_length=4096).encode(example)[0]["input_ids"]
    for side in ("right", "left"):
        encoder = PromptEncoder(tokenizer, spec, max_length=160, truncation_side=side)
        ids = encoder.encode(example)[0]["input_ids"]
        assert len(full) > 400 and 140 <= len(ids) <= 160
        assert ids.count(pad_id) == full.count(pad_id)  # every image token kept
        kept_end = ids[:40] == full[:40] if side == "right" else ids[-40:] == full[-40:]
        assert kept_end and ids[-5:] == full[-5:]  # template's closing tokens and generation prompt stay
    with pytest.raises(DataError, match="image tokens cannot be truncated") as err:
        PromptEncoder(tokenizer, spec, max_length=16).encode(example)
    assert err.value.row == 1 and err.value.field == "images"
    # A multi-turn row keeps its turns and roles when its text is cut (the image tags stay in their turns).
    turns = [{"role": "system", "content": "You grade fabric."},
             {"role": "user", "content": f"<image> first question {long_text}"},
             {"role": "assistant", "content": f"first answer {long_text}"},
             {"role": "user", "content": f"<image> {long_text} last words"}]
    chat = [Example(None, messages=turns, images=["a.png", "c.png"], file=str(images / "data.jsonl"), row=1)]
    full = PromptEncoder(tokenizer, spec, max_length=4096).encode(chat)[0]["input_ids"]
    for side, kept in (("right", "first question"), ("left", "last words")):
        ids = PromptEncoder(tokenizer, spec, max_length=300, truncation_side=side).encode(chat)[0]["input_ids"]
        text = tokenizer.decode(ids)
        assert len(full) > 600 and 280 <= len(ids) <= 300 and ids.count(pad_id) == full.count(pad_id)
        assert text.count("<|im_start|>user") == 2 and text.count("<|im_start|>assistant") == 2  # + generation
        assert "<|im_start|>system\nYou grade fabric.<|im_end|>" in text and kept in text
        assert ids[-5:] == full[-5:]


@pytest.mark.parametrize("problem_type, labels", [
    ("multi_label_classification", {"a.png": ["stain"], "b.png": ["hole", "stain"], "c.png": []}),
    ("regression", {"a.png": 0.0, "b.png": 2.0, "c.png": 1.0}),
])
def test_multi_label_and_regression_learn_from_the_image(tiny_vl_dir, images, tmp_path, problem_type, labels):
    """Every row has the same text, so only the image can explain the label."""
    data = images / f"{problem_type}.jsonl"
    data.write_text("".join(json.dumps({"text": "<image>rate this fabric", "images": [name], "label": label}) + "\n"
                            for name, label in labels.items()) * 8)
    flags = ["--labels", "hole,stain"] if problem_type != "regression" else ["--problem_type", "regression"]
    summary = _sft_vl(tiny_vl_dir("qwen2_vl"), tmp_path / "out", str(data), "--num_train_epochs", "12",
                      "--learning_rate", "2e-3", "--head_lr", "3e-2", "--per_device_train_batch_size", "8", *flags)
    result = tmp_path / "pred.jsonl"
    infer_main(InferArguments(torch_dtype="float32", model=summary["last_model_checkpoint"], dataset=[str(data)],
                              result_path=str(result), device="cpu"))
    preds = {json.loads(line)["images"][0].rsplit("/", 1)[-1]: json.loads(line)["pred"]
             for line in result.read_text().splitlines()[:3]}
    if problem_type == "regression":
        assert all(abs(preds[n] - y) < 0.35 for n, y in labels.items()), preds
    else:
        assert {n: sorted(p) for n, p in preds.items()} == labels, preds


def _sft_vl(model_dir, out, dataset, *flags):
    return sft_main(["--model", str(model_dir), "--dataset", dataset, "--tuner_type", "full", "--use_cpu", "true",
                     "--eval_strategy", "no", "--save_strategy", "no", "--torch_dtype", "float32", "--warmup_ratio",
                     "0", "--output_dir", str(out), *flags])


@pytest.mark.slow
def test_ddp_and_gradient_checkpointing_match_one_process(tiny_vl_dir, images, tmp_path):
    """2 gloo processes x 4 rows with gradient checkpointing == 1 process x 8 rows, on image and text rows."""
    import os
    import subprocess
    import sys

    from helpers import logged_losses

    mixed = [{"text": "<image>defect?", "images": [n], "label": lab}
             for n, lab in (("a.png", "local"), ("b.png", "nominal"), ("c.png", "global"))]
    mixed += [{"text": "no picture, fabric looks torn", "label": "global"}]
    data = images / "ddp.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in mixed * 6))
    common = ["sft", "--model", str(tiny_vl_dir("qwen2_vl")), "--dataset", str(data), "--tuner_type", "full",
              "--max_steps", "3", "--logging_steps", "1", "--learning_rate", "1e-3", "--warmup_ratio", "0",
              "--use_cpu", "true", "--train_sampling_strategy", "sequential",
              "--torch_dtype", "float32", "--eval_strategy", "no"]
    env = {k: v for k, v in os.environ.items() if k != "NPROC_PER_NODE"} | {"OMP_NUM_THREADS": "1"}
    runs = {"one": (["--per_device_train_batch_size", "8"], {}),
            "two": (["--per_device_train_batch_size", "4", "--gradient_checkpointing", "true"],
                    {"NPROC_PER_NODE": "2"})}
    for name, (flags, extra_env) in runs.items():
        done = subprocess.run([sys.executable, "-m", "swiftcls", *common, *flags, "--output_dir",
                               str(tmp_path / name)], env={**env, **extra_env}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-3000:]
    one, two = logged_losses(tmp_path / "one"), logged_losses(tmp_path / "two")
    assert len(one) == len(two) == 3 and two == pytest.approx(one, rel=2e-3)


def test_pixel_budget_from_swift_environment(monkeypatch):
    from swiftcls import DataArguments

    monkeypatch.setenv("MAX_PIXELS", "200704")
    assert DataArguments().max_pixels == 200704 and DataArguments(max_pixels=3136).max_pixels == 3136
    monkeypatch.setenv("MIN_PIXELS", "lots")
    with pytest.raises(ConfigError, match="MIN_PIXELS"):
        DataArguments()
