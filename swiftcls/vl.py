"""Image+text classifiers for the Qwen VL families (transformers ships no ``*VLForSequenceClassification``).

Qwen2-VL, Qwen2.5-VL and Qwen3-VL use the classes below; Qwen3.5 (natively multimodal) uses transformers' own
``Qwen3_5ForSequenceClassification``, which has the same layout.

Layout (what ``save_pretrained`` writes and vLLM's ``Qwen2VLForSequenceClassification`` reads):

* ``model`` is transformers' own ``Qwen2VLModel`` / ``Qwen2_5_VLModel`` / ``Qwen3VLModel``, named exactly as in
  ``*ForConditionalGeneration`` (``model.visual.*``, ``model.language_model.*``), so every backbone weight of a
  hub checkpoint loads -- including old-format checkpoints (``visual.*``, ``model.layers.*``), through the same
  checkpoint conversion mapping transformers uses for the generation class.
* ``score`` is the ``num_labels x hidden`` head. The LM head (``lm_head.weight``) is never created: no
  vocab-size logits in memory, and the checkpoint's copy is simply left unused.

Pooling is swiftcls's usual one (``modeling.install_pooled_forward``): the hidden state of the last attended
token, after the image features have been scattered into the ``<|image_pad|>`` positions.

Images: paths are resolved relative to the data file's folder and opened with pillow. At tokenization each image
is decoded once (so a broken file is a row error there, not a crash mid-training) and its token count comes from
the image processor's own ``get_number_of_image_patches`` (the resize rule vLLM also uses) under the pixel budget
(``--min_pixels`` / ``--max_pixels``); the patches themselves are computed per batch. The prompt is the
text path's chat prompt with ``<|vision_start|><|image_pad|><|vision_end|>`` where the row says ``<image>``
(images without a tag go first); each pad is expanded to the image's token count. Pixels are produced per batch
by :class:`swiftcls.data.encode.Collator`, so only one batch of images is ever in memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLModel, Qwen2_5_VLPreTrainedModel
from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VLModel, Qwen2VLPreTrainedModel
from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLModel, Qwen3VLPreTrainedModel

from .errors import DataError
from .modeling import pool_last

IMAGE_TAG = "<image>"
VISION_PROMPT = "<|vision_start|><|image_pad|><|vision_end|>"
IMAGE_PAD = "<|image_pad|>"


def vision_inputs(model, input_ids: torch.Tensor, pixel_values=None, image_grid_thw=None) -> dict:
    """Keyword arguments for the VL backbone: pixels, grids and the token-type map M-RoPE needs."""
    if pixel_values is None:
        return {}
    image_token_id = model.config.image_token_id
    return {"pixel_values": pixel_values, "image_grid_thw": image_grid_thw,
            "mm_token_type_ids": (input_ids == image_token_id).to(torch.int32)}


class _VLForSequenceClassification:
    """Shared body of the two classes below: ``model`` (the VL backbone) + ``score`` (the head)."""

    _backbone_cls: type = None

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.model = self._backbone_cls(config)
        hidden = config.get_text_config().hidden_size
        self.score = nn.Linear(hidden, config.num_labels, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value):
        self.model.set_input_embeddings(value)

    def forward(self, input_ids=None, attention_mask=None, pixel_values=None, image_grid_thw=None, **kwargs):
        """Reference forward (swiftcls installs the same computation on the instance, see modeling.py)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                            **vision_inputs(self, input_ids, pixel_values, image_grid_thw)).last_hidden_state
        return SequenceClassifierOutput(logits=self.score(pool_last(hidden, attention_mask)))


class Qwen2VLForSequenceClassification(_VLForSequenceClassification, Qwen2VLPreTrainedModel):
    """Qwen2-VL backbone (``model.visual``, ``model.language_model``) with a ``score`` head."""

    _backbone_cls = Qwen2VLModel


class Qwen2_5_VLForSequenceClassification(_VLForSequenceClassification, Qwen2_5_VLPreTrainedModel):  # noqa: N801
    """Qwen2.5-VL backbone (``model.visual``, ``model.language_model``) with a ``score`` head."""

    _backbone_cls = Qwen2_5_VLModel


class Qwen3VLForSequenceClassification(_VLForSequenceClassification, Qwen3VLPreTrainedModel):
    """Qwen3-VL backbone (``model.visual`` incl. deepstack mergers, ``model.language_model``) with a ``score`` head."""

    _backbone_cls = Qwen3VLModel


CLASSES = {cls.__name__: cls for cls in (Qwen2VLForSequenceClassification, Qwen2_5_VLForSequenceClassification,
                                         Qwen3VLForSequenceClassification)}
# classifier class -> the generation class whose checkpoint key conversions it shares
_GENERATION_CLASSES = {"Qwen2VLForSequenceClassification": "Qwen2VLForConditionalGeneration",
                       "Qwen2_5_VLForSequenceClassification": "Qwen2VLForConditionalGeneration",
                       "Qwen3VLForSequenceClassification": "Qwen3VLForConditionalGeneration",
                       "Qwen3_5ForSequenceClassification": "Qwen3_5ForConditionalGeneration"}


def _register_conversions() -> None:
    """Load hub checkpoints in every key format their generation class accepts, and swiftcls/vLLM exports."""
    from transformers import conversion_mapping as cm

    for name, generation in _GENERATION_CLASSES.items():
        if cm.get_checkpoint_conversion_mapping(name) is None:
            # vLLM's Qwen2-VL adapter keeps the head inside its language model: ``language_model.score.weight``.
            head = cm.WeightRenaming(source_patterns=r"^language_model\.score\.", target_patterns="score.")
            cm.register_checkpoint_conversion_mapping(
                name, [head, *(cm.get_checkpoint_conversion_mapping(generation) or [])])


_register_conversions()


def load_image_processor(model_dir: str, min_pixels: int | None = None, max_pixels: int | None = None):
    """The checkpoint's image processor with the pixel budget applied (``None`` keeps the checkpoint's)."""
    from transformers import AutoImageProcessor

    processor = AutoImageProcessor.from_pretrained(model_dir)
    set_pixel_budget(processor, min_pixels, max_pixels)
    return processor


def set_pixel_budget(processor, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
    """Bound the resized image area: each image becomes about ``pixels / 28**2`` tokens (Qwen2-VL)."""
    size = dict(processor.size)
    if min_pixels is not None:
        size["shortest_edge"] = min_pixels
    if max_pixels is not None:
        size["longest_edge"] = max_pixels
    processor.size = size


def resolve_image(path: str, data_file: str) -> Path:
    """An image path as written in a row, made absolute relative to the data file's folder."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(os.path.normpath(Path(data_file).resolve().parent / p))


def open_image(path: Path, where: dict):
    """Open and decode an image as RGB, or raise a DataError naming file, row, field and path."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise DataError(f"image not found: {path}.", field="images", **where,
                        fix="image paths are relative to the data file's folder; check the path.")
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"cannot read image {path} ({type(err).__name__}: {err}).", field="images", **where,
                        fix="replace the file or drop the row (--skip_bad_rows).") from err


def image_messages(messages: list[dict], n_images: int, where: dict) -> list[dict]:
    """Replace ``<image>`` tags by Qwen's vision placeholder; images without a tag open the first user turn."""
    tags = sum(m["content"].count(IMAGE_TAG) for m in messages)
    if tags > n_images:
        raise DataError(f"{tags} <image> tags but {n_images} images.", field="images", **where,
                        fix="give one image per <image> tag.")
    out = [{**m, "content": m["content"].replace(IMAGE_TAG, VISION_PROMPT)} for m in messages]
    first = next((i for i, m in enumerate(out) if m["role"] == "user"), 0)
    out[first]["content"] = VISION_PROMPT * (n_images - tags) + out[first]["content"]
    return out


def expand_image_pads(ids: list[int], pad_id: int, counts: list[int]) -> list[int]:
    """Repeat the i-th ``<|image_pad|>`` id ``counts[i]`` times (the image's token count after merging)."""
    out, k = [], 0
    for token in ids:
        if token == pad_id and k < len(counts):
            out.extend([pad_id] * counts[k])
            k += 1
        else:
            out.append(token)
    return out


def image_tokens(processor, path: Path, where: dict) -> int:
    """Decode one image (a broken file fails here, naming the row) and return its prompt token count.

    The count comes from the processor's resize rule for the image size, without computing any patches.
    """
    image = open_image(path, where)
    try:
        patches = processor.get_number_of_image_patches(image.height, image.width)
    except ValueError as err:  # e.g. aspect ratio beyond 200:1
        raise DataError(f"image {path} ({image.width}x{image.height}) cannot be used: {err}", field="images",
                        **where, fix="crop or pad the image, or drop the row (--skip_bad_rows).") from err
    return patches // processor.merge_size ** 2


def process_images(processor, images: list) -> dict:
    """``pixel_values`` (all patches, concatenated) and ``image_grid_thw`` for a list of PIL images."""
    out = processor(images=images, return_tensors="pt")
    return {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]}
