"""Helpers shared by the tests: synthetic learnable rows, JSONL files, tiny images and training runs."""

import json
import random
from pathlib import Path

import torch
from PIL import Image

from swiftcls import sft_main
from swiftcls.core.compat import attn_implementation
from swiftcls.core.labels import MULTI, REGRESSION, SINGLE
from swiftcls.data.collators import Collator, PackingCollator
from swiftcls.models.loading import load_classifier
from swiftcls.models.packing import known_attn, use_padding_free
from swiftcls.models.pooling import classifier_logits
from swiftcls.models.tuners import apply_lora
from swiftcls.training.losses import LossConfig, classification_loss

TEXTILE = "data/textile_defects/textile_images/simulated"
WORDS = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta"]


def make_rows(n, kind, seed=0):
    """Learnable synthetic data: the label is a function of which marker words occur."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        filler = rng.sample(WORDS, 3)
        if kind == "single":
            label = rng.choice(["good", "bad"])
            rows.append({"text": " ".join(filler + [label, "thing"]), "label": label})
        elif kind == "multi":
            tags = [t for t in ("red", "blue") if rng.random() < 0.5]
            rows.append({"text": " ".join(filler + tags), "label": tags})
        else:
            k = rng.randint(0, 3)
            rows.append({"text": " ".join(filler + ["up"] * k), "label": float(k)})
    return rows


def score_rows(n, seed=0):
    """(query, document, relevance) regression rows: relevance = how many of the query's words the document has."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        query = rng.sample(WORDS, 2)
        hits = rng.randint(0, 2)
        document = query[:hits] + rng.sample([w for w in WORDS if w not in query], 3 - hits)
        rows.append({"text": " ".join(query), "text_pair": " ".join(document), "label": float(hits)})
    return rows


def mixed_rows(problem_type, seed=0):
    """Encoded rows of very different lengths (1 to 40 tokens), with labels of the problem type."""
    rng = random.Random(seed)
    rows = []
    for n in (1, 7, 40, 3, 19, 2, 33, 11):
        label = {SINGLE: rng.randrange(3), MULTI: [float(rng.random() < 0.5) for _ in range(2)],
                 REGRESSION: rng.uniform(0, 5)}[problem_type]
        rows.append({"input_ids": [rng.randrange(100, 5000) for _ in range(n)], "labels": label})
    return rows


def logits_loss_grads(model, batch, cfg):
    """Logits, loss and every parameter gradient of one batch (packed or padded), for packed == padded checks."""
    model.zero_grad()
    batch = dict(batch)
    labels = batch.pop("labels")
    logits = classifier_logits(model, batch)
    loss = classification_loss(logits, labels, cfg)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return logits.detach(), loss.detach(), grads


def packed_and_padded(model_dir, spec, space, lora: bool, attn: str | None):
    """Logits, loss and gradients of one batch of :func:`mixed_rows`, packed and padded, on a fresh fp32 CPU model.

    Checks on the way that the packed path is taken (with the expected attention) and that the packed batch holds no
    pad token at all. Returns ``(packed, padded)``, each as :func:`logits_loss_grads` gives it.
    """
    torch.manual_seed(0)
    model, tokenizer, new = load_classifier(str(model_dir), spec, space, torch_dtype="float32",
                                            attn_impl=known_attn(attn))
    assert use_padding_free(True, spec, model, attn, "cpu")
    assert attn_implementation(model.config) == (attn or "swiftcls_varlen")
    if lora:
        model = apply_lora(model, spec, new, 4, 8, 0.0, ["all-linear"], [], True, True)
    rows = mixed_rows(space.problem_type)
    dtype = torch.long if space.problem_type == SINGLE else torch.float32
    cfg = LossConfig(space.problem_type)
    padded = logits_loss_grads(model, Collator(tokenizer.pad_token_id, "right", dtype)(rows), cfg)
    packed_batch = PackingCollator(dtype)(rows)
    assert packed_batch["input_ids"].shape == (1, sum(len(r["input_ids"]) for r in rows))  # no pad token at all
    return logits_loss_grads(model, packed_batch, cfg), padded


def assert_same_logits_loss_grads(packed, padded):
    """fp32 tolerances for packed vs padded: logits 1e-5, loss 1e-6, every gradient 1e-5."""
    torch.testing.assert_close(packed[0], padded[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed[1], padded[1], atol=1e-6, rtol=1e-5)
    assert padded[2].keys() == packed[2].keys() and len(padded[2]) > 4
    for name, grad in padded[2].items():
        torch.testing.assert_close(packed[2][name], grad, atol=1e-5, rtol=1e-4, msg=name)


def write(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return str(path)


def sft(argv):
    """``swiftcls sft`` with these flags, in-process; returns its summary."""
    return sft_main(argv)


def logged_losses(output_dir):
    last = max(output_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    state = json.loads(last.read_text())
    return [e["loss"] for e in state["log_history"] if "loss" in e]


def write_images(folder):
    """Two small random PNGs, a.png (56x56) and b.png (84x56), in ``folder``."""
    rng = random.Random(0)
    for name, size in (("a.png", (56, 56)), ("b.png", (84, 56))):
        img = Image.new("RGB", size)
        img.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(size[0] * size[1])])
        img.save(folder / name)


def write_textile(shared: Path, folder: Path, per_class: int, seed: int = 0) -> tuple[str, str]:
    """SWIFT-format train/test JSONL over the real textile images (paths relative to the JSONL files)."""
    root = shared / TEXTILE
    rng = random.Random(seed)
    train, test = [], []
    for label in ("nominal", "local", "global"):
        files = sorted((root / label).glob("*.jpg"))
        rng.shuffle(files)
        for i, f in enumerate(files[:per_class]):
            link = folder / "img" / label / f.name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f)
            row = {"messages": [{"role": "user", "content": "<image>Is this fabric defective?"}],
                   "images": [f"img/{label}/{f.name}"], "label": label}
            (train if i < per_class * 3 // 4 else test).append(row)
    paths = []
    for name, data in (("train.jsonl", train), ("test.jsonl", test)):
        rng.shuffle(data)
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in data))
        paths.append(str(folder / name))
    return paths[0], paths[1]


def write_png_bomb(path, side=20_000):
    """A 1-bit ``side`` x ``side`` black PNG of a few tens of KB: a decompression bomb (400 megapixels by default,
    over pillow's limit), written by hand so the test never holds the decoded pixels."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    compress = zlib.compressobj(9)
    idat = b"".join(compress.compress(row) for _ in range(side)) + compress.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def load_example(path: Path):
    """A script under examples/ loaded as a module (examples/ is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
