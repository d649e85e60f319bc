"""Images of image+text rows: path resolution, decoding, prompt placeholders, token counts and pixels.

Paths are resolved relative to the data file's folder and opened with pillow. At tokenization each image is decoded
once (so a broken file is a row error there, not a crash mid-training) and its token count comes from the image
processor's own ``get_number_of_image_patches`` (the resize rule vLLM also uses) under the pixel budget
(``--min_pixels`` / ``--max_pixels``); the patches themselves are computed per batch. The prompt is the text path's
chat prompt with the family's ``image_placeholder`` (Qwen: ``<|vision_start|><|image_pad|><|vision_end|>``) where the
row says ``<image>`` (images without a tag go first); its ``image_token`` is expanded to the image's token count.
Pixels are produced per batch by :class:`swiftcls.data.collators.Collator`, so only one batch of images is ever in
memory.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..core.errors import DataError

IMAGE_TAG = "<image>"  # SWIFT's image tag in rows; each family's template says what replaces it


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
    """Open and decode an image as RGB, or raise a DataError naming file, row, field and path.

    An image with more pixels than pillow's ``Image.MAX_IMAGE_PIXELS`` guard (a decompression bomb: a few KB of PNG
    that decode to gigabytes) is such an error too, found from its header before anything is decoded.
    """
    if not path.is_file():
        raise DataError(f"image not found: {path}.", field="images", **where,
                        fix="image paths are relative to the data file's folder; check the path.")
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except Image.DecompressionBombError as err:
        raise DataError(f"image {path} is too large to decode safely ({err})", field="images", **where,
                        fix="downscale the image, or drop the row (--skip_bad_rows).") from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"cannot read image {path} ({type(err).__name__}: {err}).", field="images", **where,
                        fix="replace the file or drop the row (--skip_bad_rows).") from err


def image_messages(messages: list[dict], n_images: int, where: dict, placeholder: str) -> list[dict]:
    """Replace ``<image>`` tags by the family's ``placeholder``; images without a tag open the first user turn."""
    tags = sum(m["content"].count(IMAGE_TAG) for m in messages)
    if tags > n_images:
        raise DataError(f"{tags} <image> tags but {n_images} images.", field="images", **where,
                        fix="give one image per <image> tag.")
    out = [{**m, "content": m["content"].replace(IMAGE_TAG, placeholder)} for m in messages]
    first = next((i for i, m in enumerate(out) if m["role"] == "user"), 0)
    out[first]["content"] = placeholder * (n_images - tags) + out[first]["content"]
    return out


def expand_image_pads(ids: list[int], pad_id: int, counts: list[int]) -> list[int]:
    """Repeat the i-th image token id (``pad_id``) ``counts[i]`` times (the image's token count after merging)."""
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
