"""Request bodies into examples: JSON and shape (:mod:`~swiftcls.serve.schemas`), the server's limits, images.

Accepted bodies (vLLM's ``/classify``, plus two swiftcls extensions marked *):

* ``{"model": M, "input": "text" | ["text", ...]}``; *``"text_pair"`` (same shape) for pair tasks;
  *``"images"``: one list of image URLs per input (image+text models).
* ``{"model": M, "messages": [{"role": "user", "content": "..." | [parts]}]}``: one chat input; parts are
  ``{"type": "text", "text": ...}`` and ``{"type": "image_url", "image_url": {"url": ...}}``.

The route parses the body itself rather than through a FastAPI body parameter, so that the API key is checked
before the body is parsed, any ``Content-Type`` is accepted (as before; ``curl -d`` sends a form type) and the
messages say what to fix.

Image URLs: ``data:image/...;base64,...`` always; a path or ``file://`` path only inside ``--image_dir``;
``http(s)://`` only with ``--allow_remote_images``.
"""

from __future__ import annotations

import base64
import binascii
import json
import shutil
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ..config.deploy import DeployArguments
from ..data.dataset import Example
from ..data.images import IMAGE_TAG
from .errors import RequestError, validation_message
from .schemas import ChatMessage, ClassifyRequest, ImagePart, RerankRequest, ScoreRequest

_WANTED = {ClassifyRequest: "with 'input' or 'messages'", ScoreRequest: "with 'text_1' and 'text_2'",
           RerankRequest: "with 'query' and 'documents'"}


def read_request(raw: bytes, schema: type[BaseModel] = ClassifyRequest) -> BaseModel:
    """The validated request in a body (a ``schema`` instance), or a 422 :class:`RequestError` saying what is wrong."""
    try:
        body = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:  # RecursionError: nested too deep
        raise RequestError(422, f"the body is not valid JSON ({type(err).__name__}: {err}).") from None
    if not isinstance(body, dict):
        raise RequestError(422, f"the request body must be a JSON object ({_WANTED.get(schema, 'see /docs')}).")
    _check_unicode(body)
    try:
        return schema.model_validate(body)
    except ValidationError as err:
        raise RequestError(422, *validation_message(err)) from None


def _check_unicode(body: dict) -> None:
    """Refuse strings that are not Unicode text (422 naming the field).

    JSON allows a lone surrogate escape (``"\\ud800"``), which no tokenizer, file name or UTF-8 answer can hold.
    """
    stack = [((), body)]
    while stack:  # iterative: as deep as json.loads allowed, without recursion
        where, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(((*where, k), v) for k, v in value.items())
            stack.extend(((*where, "<key>"), k) for k in value)
        elif isinstance(value, list):
            stack.extend(((*where, str(i)), v) for i, v in enumerate(value))
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as err:
                parts = [part.encode("utf-8", "backslashreplace").decode() for part in where]  # keys may be bad too
                raise RequestError(422, f"{'.'.join(parts) or 'body'}: a lone surrogate ({value[err.start]!r}) at "
                                        f"character {err.start} is not Unicode text; send UTF-8 text (a "
                                        "\\ud800-\\udbff escape must be followed by a \\udc00-\\udfff one).",
                                   parts[0] if parts else None) from None


def _short(text: str, limit: int = 80) -> str:
    """``text`` cut for an error message (a client may send a 5,000-character path)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _check_lengths(items: list[str], name: str, limit: int) -> list[str]:
    long = next((i for i, t in enumerate(items) if len(t) > limit), None)
    if long is not None:
        raise RequestError(422, f"'{name}'[{long}] has {len(items[long])} characters, more than the server's "
                                f"--max_text_length {limit}.", name)
    return items


class ImageFetcher:
    """Turns image URLs of one request into local files, enforcing the server's image rules.

    Inline and remote images are written into a temporary folder made on the first one (most requests have
    none: no file-system work for them); :meth:`cleanup` removes it once the images are no longer needed.
    :meth:`redact` replaces the server's paths in an error message by what the client sent.
    """

    def __init__(self, args: DeployArguments, text_only: bool = False):
        self.args, self.text_only, self.tmp_dir = args, text_only, None
        self.root = Path(args.image_dir).resolve() if args.image_dir else None
        self.names: dict[str, str] = {}  # local path -> how the client named the image

    def redact(self, message: str) -> str:
        """``message`` with every server path (image files, the temporary folder, ``--image_dir``) replaced."""
        for path, name in sorted(self.names.items(), key=lambda item: -len(item[0])):
            message = message.replace(path, name)
        for folder, name in ((self.tmp_dir, "<upload>"), (self.root, "<image_dir>")):
            message = message.replace(str(folder), name) if folder is not None else message
        return message

    def cleanup(self) -> None:
        """Remove the images this fetcher wrote (blocking file-system work)."""
        if self.tmp_dir is not None:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def _save(self, data: bytes, name: str) -> str:
        if len(data) > self.args.max_image_bytes:
            raise RequestError(413, f"an image has {len(data)} bytes, more than --max_image_bytes "
                                    f"{self.args.max_image_bytes}.", "images")
        if self.tmp_dir is None:
            self.tmp_dir = Path(tempfile.mkdtemp(prefix="swiftcls-req-"))
        path = self.tmp_dir / f"{uuid.uuid4().hex}.img"
        path.write_bytes(data)
        self.names[str(path)] = name
        return str(path)

    def _local(self, url: str) -> str:
        if self.root is None:
            raise RequestError(403, "image paths are not accepted: the server was started without --image_dir "
                                    "(send the image inline as a data: URL instead).", "images")
        raw = url[len("file://"):] if url.startswith("file://") else url
        shown = _short(raw)
        if "\0" in raw:
            raise RequestError(422, f"image path {shown!r} contains a NUL byte.", "images")
        try:
            # resolve() follows '..' and symlinks, so the check below sees where the file really is.
            path = (self.root / raw).resolve()
            if not path.is_relative_to(self.root):
                raise RequestError(403, f"image path {shown!r} is outside the server's --image_dir.", "images")
            if not path.is_file():
                raise RequestError(422, f"image not found: {shown!r} (relative to --image_dir).", "images")
            size = path.stat().st_size
        except (OSError, ValueError) as err:  # e.g. a name too long for the file system
            why = err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__
            raise RequestError(422, f"image path {shown!r} cannot be read ({why}).", "images") from None
        if size > self.args.max_image_bytes:
            raise RequestError(413, f"image {shown!r} is larger than --max_image_bytes {self.args.max_image_bytes}.",
                               "images")
        self.names[str(path)] = shown
        return str(path)

    def _remote(self, url: str) -> str:
        if not self.args.allow_remote_images:
            raise RequestError(403, "remote image URLs are refused; start the server with --allow_remote_images to "
                                    "allow them, or send the image inline as a data: URL.", "images")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - scheme checked by the caller
                data = resp.read(self.args.max_image_bytes + 1)
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise RequestError(422, f"could not fetch image {_short(url)!r}: {err}.", "images") from err
        return self._save(data, _short(url))

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
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as err:
                raise RequestError(422, f"invalid base64 in a data: image URL ({err}).", "images") from err
            return self._save(data, f"<data: URL {len(self.names) + 1}>")
        if url.startswith(("http://", "https://")):
            return self._remote(url)
        if "://" in url and not url.startswith("file://"):
            raise RequestError(422, f"unsupported image URL scheme in {url[:40]!r}.", "images")
        return self._local(url)


def _messages(messages: list[ChatMessage], fetcher: ImageFetcher, limits: DeployArguments) -> Example:
    """One example from OpenAI-style chat messages; image parts become ``<image>`` tags in place."""
    count = sum(isinstance(part, ImagePart) for m in messages if not isinstance(m.content, str) for part in m.content)
    if count > limits.max_inputs:  # before any image is decoded or written
        raise RequestError(422, f"{count} images in 'messages', more than the server's --max_inputs "
                                f"{limits.max_inputs}; split the request.", "messages")
    out, images = [], []
    for m in messages:
        parts = [m.content] if isinstance(m.content, str) else m.content
        text = []
        for part in parts:
            if isinstance(part, ImagePart):
                url = part.image_url if isinstance(part.image_url, str) else part.image_url.url
                images.append(fetcher.fetch(url))
                text.append(IMAGE_TAG)
            else:
                text.append(part if isinstance(part, str) else part.text)
        out.append({"role": m.role, "content": "".join(text)})
    _check_lengths([m["content"] for m in out], "messages", limits.max_text_length)
    return Example(None, messages=out, images=images, file="<request>")


def parse_request(req: ClassifyRequest, args: DeployArguments, fetcher: ImageFetcher) -> list[Example]:
    """The examples of one validated ``/classify`` body under the server's limits (or a 422/403/413)."""
    if req.messages is not None:
        return [_messages(req.messages, fetcher, args)]
    texts = _check_lengths([req.input] if isinstance(req.input, str) else req.input, "input", args.max_text_length)
    if len(texts) > args.max_inputs:
        raise RequestError(422, f"{len(texts)} inputs, more than the server's --max_inputs {args.max_inputs}; "
                                "split the request.", "input")
    pairs = req.text_pair
    pairs = [pairs] if isinstance(pairs, str) else pairs
    pairs = _check_lengths(pairs, "text_pair", args.max_text_length) if pairs is not None else [None] * len(texts)
    images = req.images or [[] for _ in texts]
    if len(pairs) != len(texts) or len(images) != len(texts):
        raise RequestError(422, "'text_pair' and 'images' need one item per input.")
    images = [[urls] if isinstance(urls, str) else urls for urls in images]
    if sum(map(len, images)) > args.max_inputs:
        raise RequestError(422, f"more than --max_inputs {args.max_inputs} images in one request.", "images")
    return [Example(text, pair, images=[fetcher.fetch(u) for u in urls], file="<request>", row=i + 1)
            for i, (text, pair, urls) in enumerate(zip(texts, pairs, images))]


def parse_pairs(first: tuple[str, list[str]], second: tuple[str, list[str]], args: DeployArguments) -> list[Example]:
    """The (query, document) examples of a ``/score`` or ``/rerank`` body under the server's limits.

    One query against N documents (1 <-> N) or N queries each with its document (N <-> N), as vLLM pairs them.
    Each pair is encoded as a ``text``/``text_pair`` row is in training (decoders: one user turn
    ``"query\\ndocument"``; encoders: ``tokenizer(query, document)``).

    Args:
        first: The name of the query side in the body and its texts.
        second: The name of the document side and its texts.
        args: The server's limits (``--max_inputs`` pairs, ``--max_text_length`` characters per text).
    """
    (name_1, texts_1), (name_2, texts_2) = first, second
    _check_lengths(texts_1, name_1, args.max_text_length)
    _check_lengths(texts_2, name_2, args.max_text_length)
    if len(texts_1) != 1 and len(texts_1) != len(texts_2):
        raise RequestError(422, f"'{name_1}' has {len(texts_1)} texts and '{name_2}' {len(texts_2)}: send one "
                                f"'{name_1}' (scored against every '{name_2}') or one per '{name_2}'.", name_1)
    if len(texts_2) > args.max_inputs:
        raise RequestError(422, f"{len(texts_2)} pairs, more than the server's --max_inputs {args.max_inputs}; "
                                "split the request.", name_2)
    queries = texts_1 * len(texts_2) if len(texts_1) == 1 else texts_1
    return [Example(q, d, file="<request>", row=i + 1) for i, (q, d) in enumerate(zip(queries, texts_2))]
