"""Helpers shared by the tests: synthetic learnable rows, JSONL files, tiny images and training runs."""

import json
import random
from pathlib import Path

from PIL import Image

from swiftcls import sft_main
from swiftcls.core.labels import MULTI, REGRESSION, SINGLE
from swiftcls.models.pooling import classifier_logits
from swiftcls.training.losses import classification_loss

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
