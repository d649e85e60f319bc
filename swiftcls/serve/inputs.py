"""Validate ``/classify`` request bodies into examples, and fetch request images under the server's rules.

Accepted bodies (vLLM's ``/classify``, plus two swiftcls extensions marked *):

* ``{"model": M, "input": "text" | ["text", ...]}``; *``"text_pair"`` (same shape) for pair tasks;
  *``"images"``: one list of image URLs per input (image+text models).
* ``{"model": M, "messages": [{"role": "user", "content": "..." | [parts]}]}``: one chat input; parts are
  ``{"type": "text", "text": ...}`` and ``{"type": "image_url", "image_url": {"url": ...}}``.

Image URLs: ``data:image/...;base64,...`` always; a path or ``file://`` path only inside ``--image_dir``;
``http(s)://`` only with ``--allow_remote_images``.
"""

from __future__ import annotations

import base64
import binascii
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from ..config.deploy import DeployArguments
from ..data.dataset import Example
from ..data.images import IMAGE_TAG


class RequestError(Exception):
    """A request the server refuses: HTTP ``status`` and a message for the client."""

    def __init__(self, status: int, message: str, param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param = status, message, param


def _strings(value, name: str, limit: int) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise RequestError(422, f"'{name}' must be a string or a non-empty list of strings.", name)
    bad = next((i for i, t in enumerate(items) if not isinstance(t, str)), None)
    if bad is not None:
        raise RequestError(422, f"'{name}'[{bad}] is {type(items[bad]).__name__}, not a string (token ids are not "
                                "accepted: send text, which the server formats as in training).", name)
    long = next((i for i, t in enumerate(items) if len(t) > limit), None)
    if long is not None:
        raise RequestError(422, f"'{name}'[{long}] has {len(items[long])} characters, more than the server's "
                                f"--max_text_length {limit}.", name)
    return items


class ImageFetcher:
    """Turns image URLs of one request into local files, enforcing the server's image rules.

    Inline and remote images are written into ``tmp_dir`` (the caller removes it after the request).
    """

    def __init__(self, args: DeployArguments, tmp_dir: Path, text_only: bool = False):
        self.args, self.tmp_dir, self.text_only = args, tmp_dir, text_only
        self.root = Path(args.image_dir).resolve() if args.image_dir else None

    def _save(self, data: bytes) -> str:
        if len(data) > self.args.max_image_bytes:
            raise RequestError(413, f"an image has {len(data)} bytes, more than --max_image_bytes "
                                    f"{self.args.max_image_bytes}.", "images")
        path = self.tmp_dir / f"{uuid.uuid4().hex}.img"
        path.write_bytes(data)
        return str(path)

    def _local(self, url: str) -> str:
        if self.root is None:
            raise RequestError(403, "image paths are not accepted: the server was started without --image_dir "
                                    "(send the image inline as a data: URL instead).", "images")
        raw = url[len("file://"):] if url.startswith("file://") else url
        # resolve() follows '..' and symlinks, so the check below sees where the file really is.
        path = (self.root / raw).resolve()
        if not path.is_relative_to(self.root):
            raise RequestError(403, f"image path {raw!r} is outside the server's --image_dir.", "images")
        if not path.is_file():
            raise RequestError(422, f"image not found: {raw!r} (relative to --image_dir).", "images")
        if path.stat().st_size > self.args.max_image_bytes:
            raise RequestError(413, f"image {raw!r} is larger than --max_image_bytes {self.args.max_image_bytes}.",
                               "images")
        return str(path)

    def _remote(self, url: str) -> str:
        if not self.args.allow_remote_images:
            raise RequestError(403, "remote image URLs are refused; start the server with --allow_remote_images to "
                                    "allow them, or send the image inline as a data: URL.", "images")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - scheme checked by the caller
                data = resp.read(self.args.max_image_bytes + 1)
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise RequestError(422, f"could not fetch image {url!r}: {err}.", "images") from err
        return self._save(data)

    def fetch(self, url) -> str:
        """A local file path for one image URL (data:, http(s):, file:// or a path under ``--image_dir``)."""
        if self.text_only:
            raise RequestError(422, "this model is text-only; send no images.", "images")
        if not isinstance(url, str) or not url:
            raise RequestError(422, "an image URL must be a non-empty string.", "images")
        if url.startswith("data:"):
            header, _, payload = url.partition(",")
            if not header.endswith(";base64"):
                raise RequestError(422, "data: image URLs must be base64 (data:image/png;base64,...).", "images")
            try:
                return self._save(base64.b64decode(payload, validate=True))
            except (binascii.Error, ValueError) as err:
                raise RequestError(422, f"invalid base64 in a data: image URL ({err}).", "images") from err
        if url.startswith(("http://", "https://")):
            return self._remote(url)
        if "://" in url and not url.startswith("file://"):
            raise RequestError(422, f"unsupported image URL scheme in {url[:40]!r}.", "images")
        return self._local(url)


def _image_url(part: dict):
    value = part.get("image_url")
    return value.get("url") if isinstance(value, dict) else value


def _messages(messages, fetcher: ImageFetcher, limit: int) -> Example:
    """One example from OpenAI-style chat messages; image parts become ``<image>`` tags in place."""
    if not isinstance(messages, list) or not messages:
        raise RequestError(422, "'messages' must be a non-empty list of {role, content} objects.", "messages")
    out, images = [], []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise RequestError(422, f"messages[{i}] needs a role of system, user or assistant.", "messages")
        content = m.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(parts, list):
            raise RequestError(422, f"messages[{i}].content must be a string or a list of parts.", "messages")
        text = []
        for part in parts:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                text.append(part["text"])
            elif kind == "image_url":
                images.append(fetcher.fetch(_image_url(part)))
                text.append(IMAGE_TAG)
            else:
                raise RequestError(422, f"messages[{i}]: unsupported content part {str(part)[:60]}.", "messages")
        out.append({"role": m["role"], "content": "".join(text)})
    _strings([m["content"] for m in out], "messages", limit)
    return Example(None, messages=out, images=images, file="<request>")


def parse_request(body, args: DeployArguments, fetcher: ImageFetcher) -> list[Example]:
    """The examples of one ``/classify`` body, or a :class:`RequestError` (422/403/413) saying what is wrong."""
    if not isinstance(body, dict):
        raise RequestError(422, "the request body must be a JSON object with 'input' or 'messages'.")
    if ("input" in body) == ("messages" in body):
        raise RequestError(422, "give exactly one of 'input' (text or list of texts) and 'messages' (one chat).")
    if "messages" in body:
        return [_messages(body["messages"], fetcher, args.max_text_length)]
    texts = _strings(body["input"], "input", args.max_text_length)
    if len(texts) > args.max_inputs:
        raise RequestError(422, f"{len(texts)} inputs, more than the server's --max_inputs {args.max_inputs}; "
                                "split the request.", "input")
    pairs = body.get("text_pair")
    pairs = _strings(pairs, "text_pair", args.max_text_length) if pairs is not None else [None] * len(texts)
    images = body.get("images") or [[] for _ in texts]
    if len(pairs) != len(texts) or not isinstance(images, list) or len(images) != len(texts):
        raise RequestError(422, "'text_pair' and 'images' need one item per input.")
    images = [[urls] if isinstance(urls, str) else urls for urls in images]
    bad = next((i for i, urls in enumerate(images) if not isinstance(urls, list)), None)
    if bad is not None:
        raise RequestError(422, f"images[{bad}] must be a list of image URLs.", "images")
    if sum(map(len, images)) > args.max_inputs:
        raise RequestError(422, f"more than --max_inputs {args.max_inputs} images in one request.", "images")
    return [Example(text, pair, images=[fetcher.fetch(u) for u in urls], file="<request>", row=i + 1)
            for i, (text, pair, urls) in enumerate(zip(texts, pairs, images))]
