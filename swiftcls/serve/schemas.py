"""Pydantic shapes of the server's JSON: vLLM's ``/classify`` request and response, ``/v1/models``, errors.

Requests follow vLLM's ``/classify`` (``input`` or one chat in ``messages``) plus swiftcls's ``text_pair`` and
``images``; unknown fields are ignored, as vLLM clients send more (``truncate_prompt_tokens``, ``priority``,
...). The server's limits (``--max_inputs``, ``--max_text_length``) are checked later, in
:mod:`swiftcls.serve.inputs`, because they are settings of one server, not of the format.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

_TOKEN_IDS = "token ids are not accepted: send text, which the server formats as in training"


def _text_or_texts(value: Any, name: str) -> Any:
    """Refuse what is not a string or a non-empty list of strings, with a message naming the item."""
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, list) or not value:
        raise PydanticCustomError("texts", "'{name}' must be a string or a non-empty list of strings.",
                                  {"name": name})
    bad = next((i for i, t in enumerate(value) if not isinstance(t, str)), None)
    if bad is not None:
        raise PydanticCustomError("texts", "'{name}'[{i}] is {kind}, not a string ({why}).",
                                  {"name": name, "i": bad, "kind": type(value[bad]).__name__, "why": _TOKEN_IDS})
    return value


class TextPart(BaseModel):
    """A text part of a chat message."""

    type: Literal["text"]
    text: str


class ImageURL(BaseModel):
    """OpenAI's ``{"url": ...}`` wrapper of an image URL."""

    url: str


class ImagePart(BaseModel):
    """An image part of a chat message: ``data:``, a path under ``--image_dir``, or http(s) when allowed."""

    type: Literal["image_url"]
    image_url: ImageURL | str


class ChatMessage(BaseModel):
    """One OpenAI-style chat message; image parts become ``<image>`` tags where they stand."""

    role: Literal["system", "user", "assistant"]
    content: str | list[Annotated[TextPart | ImagePart, Field(discriminator="type")]]


class ClassifyRequest(BaseModel):
    """vLLM's ``/classify`` body: exactly one of ``input`` and ``messages``."""

    model: str | None = Field(None, description="Must match the served model name when given (else 404).")
    input: str | list[str] | None = Field(None, description="One text or a list of texts (raw, not formatted).")
    text_pair: str | list[str] | None = Field(None, description="swiftcls: second texts for pair tasks.")
    images: list[str | list[str]] | None = Field(None, description="swiftcls: image URLs, one list per input.")
    messages: list[ChatMessage] | None = Field(None, description="One chat (vLLM's chat form of /classify).")
    use_activation: bool | None = Field(None, description="false returns raw logits instead of probabilities.")

    @field_validator("input", "text_pair", mode="before")
    @classmethod
    def _texts(cls, value: Any, info) -> Any:
        return _text_or_texts(value, info.field_name)

    @model_validator(mode="after")
    def _one_kind(self) -> ClassifyRequest:
        if (self.input is None) == (self.messages is None):
            raise PydanticCustomError("shape", "give exactly one of 'input' (text or list of texts) and "
                                               "'messages' (one chat).")
        if self.messages is not None and not self.messages:
            raise PydanticCustomError("shape", "'messages' must be a non-empty list of chat messages (role, content).")
        return self


class Classification(BaseModel):
    """One input's result."""

    index: int
    label: str = Field(description="Name of the highest-scoring label.")
    probs: list[float] = Field(description="Softmax, sigmoid or regression values (raw logits with "
                                           "use_activation=false), in label-id order.")
    num_classes: int
    pred: str | float | list[str] | list[float] = Field(
        description="swiftcls: what `swiftcls infer` writes (label, labels at the threshold, or the value).")


class Usage(BaseModel):
    """Token counts, as vLLM reports them."""

    prompt_tokens: int
    total_tokens: int
    completion_tokens: int = 0
    prompt_tokens_details: None = None
    completion_tokens_details: None = None


class ClassifyResponse(BaseModel):
    """vLLM's ``/classify`` response."""

    id: str
    object: Literal["list"] = "list"
    created: int
    model: str
    data: list[Classification]
    usage: Usage


class ModelCard(BaseModel):
    """One entry of ``/v1/models``."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "swiftcls"
    root: str
    max_model_len: int | None


class ModelList(BaseModel):
    """The OpenAI-style ``/v1/models`` listing."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorInfo(BaseModel):
    """What went wrong, in vLLM's (OpenAI's) error shape."""

    message: str
    type: str
    param: str | None = None
    code: int


class ErrorResponse(BaseModel):
    """Every refusal: ``{"error": {"message", "type", "param", "code"}}``."""

    error: ErrorInfo
