"""Shared pieces of the throughput benchmarks: model shapes, real-data length mixes, FLOP and memory accounting."""

from __future__ import annotations

import functools
import json
import math
import os
import random
import resource
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("SWIFTCLS_SHARED", HERE.parents[1] / "shared"))
SHAPES = sorted(p.stem for p in (HERE / "configs").glob("*.json"))
H100_BF16_TFLOPS = 989.0  # H100 SXM dense bf16 peak (NVIDIA datasheet), the MFU denominator on CUDA


def add_common_args(parser) -> None:
    """Flags both benchmarks share."""
    parser.add_argument("--shape", default="qwen2.5-0.5b", choices=SHAPES, help="benchmarks/configs/<shape>.json")
    parser.add_argument("--data", default="mixed", choices=("sst2", "mixed", "long"),
                        help="sst2: real SST-2 sentences (short); mixed: half SST-2 sentences, half real sentences "
                             "joined into texts of 64..max_length tokens (log-uniform); long: every text "
                             "max_length tokens (the memory worst case)")
    parser.add_argument("--max_length", type=int, default=2048)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--attn_impl", default=None, help="attention for both recipes (default: each one's own)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--peak_tflops", type=float, default=None,
                        help=f"MFU denominator (default {H100_BF16_TFLOPS} on CUDA; on CPU the measured fp32 GEMM "
                             "rate of this machine)")
    parser.add_argument("--seed", type=int, default=0)


def tokenizer():
    """The real Qwen tokenizer from ../shared (pad = <|endoftext|>, as swiftcls picks for Qwen)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(SHARED / "tokenizers" / "qwen2"))
    tok.pad_token = tok.pad_token or "<|endoftext|>"
    return tok


def model_config(shape: str, num_labels: int = 2):
    """A Qwen2 classifier config of ``shape`` (random init is enough for speed)."""
    from transformers import Qwen2Config

    values = json.loads((HERE / "configs" / f"{shape}.json").read_text())
    return Qwen2Config(**{k: v for k, v in values.items() if k not in ("architectures", "torch_dtype")},
                       num_labels=num_labels, pad_token_id=151643)


def attn(model) -> str | None:
    """The attention implementation ``model`` runs (read through swiftcls's compat module)."""
    from swiftcls.core.compat import attn_implementation

    return attn_implementation(model.config)


def build_model(shape: str, dtype: torch.dtype, device: str, seed: int, attn_impl: str | None = None):
    """The same random ``Qwen2ForSequenceClassification`` for a given seed."""
    from transformers import AutoModelForSequenceClassification

    if attn_impl == "swiftcls_varlen":
        from swiftcls.models.varlen import register

        register()
    attn = {"attn_implementation": attn_impl} if attn_impl else {}
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForSequenceClassification.from_config(model_config(shape), dtype=dtype, **attn)
    return model


def texts(kind: str, n: int, max_length: int, tok, seed: int = 0) -> list[str]:
    """``n`` real texts: SST-2 sentences, a mix of sentences and joined sentences of up to ``max_length`` tokens,
    or only joined texts of ``max_length`` tokens (``long``).

    The long texts are real SST-2 sentences joined until a length drawn log-uniformly from [64, max_length]
    tokens, so lengths spread like long-document classification data while every token is real text.
    """
    path = SHARED / "data" / "sst2" / "train.tsv"
    sentences = [line.split("\t", 1)[1].strip() for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    sentences = [s for s in sentences if len(s.split()) >= 4]  # the phrase-level rows are fragments
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if kind == "sst2" or (kind == "mixed" and i % 2 == 0):
            out.append(rng.choice(sentences))
            continue
        target = max_length if kind == "long" else int(2 ** rng.uniform(6, max(6.0, math.log2(max_length))))
        parts, count = [], 0
        while count < target:
            s = rng.choice(sentences)
            parts.append(s)
            count += len(tok(s, add_special_tokens=False)["input_ids"]) + 1
        out.append(" ".join(parts))
    rng.shuffle(out)
    return out


def encode(tok, items: list[str], max_length: int, labels: bool = True, seed: int = 0) -> list[dict]:
    """Token ids (identical for both recipes) with random binary labels."""
    rng = random.Random(seed)
    ids = tok(items, truncation=True, max_length=max_length)["input_ids"]
    return [{"input_ids": x, **({"labels": rng.randrange(2)} if labels else {})} for x in ids]


def count_params(model) -> tuple[int, int]:
    """(matmul parameters = all but the input embedding, trainable parameters)."""
    embed = model.get_input_embeddings().weight
    total = sum(p.numel() for p in model.parameters() if p is not embed)
    return total, sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_flops_per_token(n_matmul: int, n_trainable: int, lora: bool) -> float:
    """6N for full fine-tuning; LoRA: 4N (forward 2N + input gradients 2N, frozen weights get no weight
    gradient) + 2x trainable (their weight gradients). Attention score FLOPs are not counted (conservative)."""
    return 4 * n_matmul + 2 * n_trainable if lora else 6 * n_matmul


def peak_tflops(args) -> float:
    """MFU denominator: ``--peak_tflops``, the H100/H200 dense bf16 peak on CUDA, or this CPU's measured fp32 GEMM
    rate (:func:`cpu_gemm_tflops`, the CPU roofline)."""
    if args.peak_tflops:
        return args.peak_tflops
    return H100_BF16_TFLOPS if args.device.startswith("cuda") else cpu_gemm_tflops()


@functools.cache
def cpu_gemm_tflops(n: int = 2048, repeats: int = 5) -> float:
    """This CPU's fp32 ``torch.matmul`` rate on ``n x n`` matrices (best of ``repeats``, with torch's threads): what a
    model's matmuls could reach at best here, so MFU on a CPU is measured against the machine, not a datasheet."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)  # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e12


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gib(device: str) -> float:
    """Peak GPU memory allocated since ``reset_peak``; on CPU the process's peak RSS so far (cumulative: the
    later recipes' figure includes the earlier ones', run one ``--recipes`` at a time for per-recipe CPU memory)."""
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def sync(device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter()


def machine(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name()
    return f"CPU ({os.cpu_count()} cores, torch threads {torch.get_num_threads()})"


def print_table(rows: list[dict], keys: list[str]) -> None:
    """A small aligned table of ``rows``."""
    width = {k: max(len(k), *(len(_fmt(r.get(k))) for r in rows)) for k in keys}
    print("  ".join(k.ljust(width[k]) for k in keys))
    for r in rows:
        print("  ".join(_fmt(r.get(k)).ljust(width[k]) for k in keys))


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    return f"{v:.4g}" if isinstance(v, float) else str(v)
