"""Pydantic shapes of the server's JSON: vLLM's ``/classify``, ``/score``, ``/rerank``, ``/v1/models``, errors.

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


# vLLM's /score accepts its two sides under any of these names (0.32: ScoreTextRequest, ScoreQueriesDocumentsRequest,
# ScoreQueriesItemsRequest, ScoreDataRequest); a body uses one pair.
SCORE_PAIRS = (("text_1", "text_2"), ("queries", "documents"), ("queries", "items"), ("data_1", "data_2"))


class ScoreRequest(BaseModel):
    """vLLM's ``/score`` body: one query against N documents (1 <-> N) or N pairs (N <-> N), text only.

    The sides are ``text_1``/``text_2`` or, as vLLM also accepts, ``queries``/``documents``, ``queries``/``items``
    or ``data_1``/``data_2``.
    """

    model: str | None = Field(None, description="Must match the served model name when given (else 404).")
    text_1: str | list[str] | None = Field(None, description="The query, or one query per text_2.")
    text_2: str | list[str] | None = Field(None, description="The documents scored against text_1.")
    queries: str | list[str] | None = Field(None, description="Same as text_1.")
    documents: str | list[str] | None = Field(None, description="Same as text_2 (with queries).")
    items: str | list[str] | None = Field(None, description="Same as text_2 (with queries).")
    data_1: str | list[str] | None = Field(None, description="Same as text_1.")
    data_2: str | list[str] | None = Field(None, description="Same as text_2.")
    use_activation: bool | None = Field(None, description="Accepted for vLLM clients; a one-output head's score "
                                                          "is its raw value either way.")

    @field_validator("text_1", "text_2", "queries", "documents", "items", "data_1", "data_2", mode="before")
    @classmethod
    def _texts(cls, value: Any, info) -> Any:
        return _text_or_texts(value, info.field_name)

    @model_validator(mode="after")
    def _one_pair(self) -> ScoreRequest:
        given = [pair for pair in SCORE_PAIRS if getattr(self, pair[0]) is not None and getattr(self, pair[1])
                 is not None]
        used = {name for pair in SCORE_PAIRS for name in pair if getattr(self, name) is not None}
        if len(given) != 1 or used != set(given[0]):
            raise PydanticCustomError("shape", "give the two sides as exactly one of the pairs 'text_1'/'text_2', "
                                               "'queries'/'documents', 'queries'/'items', 'data_1'/'data_2'.")
        return self

    def sides(self) -> tuple[tuple[str, list[str]], tuple[str, list[str]]]:
        """``((name_1, texts_1), (name_2, texts_2))`` of the pair the body used, single strings as lists."""
        pair = next(p for p in SCORE_PAIRS if getattr(self, p[0]) is not None and getattr(self, p[1]) is not None)
        return tuple((name, [v] if isinstance(v := getattr(self, name), str) else v) for name in pair)


class RerankRequest(BaseModel):
    """vLLM's (Jina/Cohere-style) ``/rerank`` body: one query, its documents, ``top_n``."""

    model: str | None = Field(None, description="Must match the served model name when given (else 404).")
    query: str = Field(description="The query every document is scored against.")
    documents: str | list[str] = Field(description="The documents to rank (text only).")
    top_n: int = Field(0, ge=0, description="Return only the best top_n results (0: all).")
    use_activation: bool | None = Field(None, description="Accepted for vLLM clients; see /score.")

    @field_validator("documents", mode="before")
    @classmethod
    def _texts(cls, value: Any, info) -> Any:
        return _text_or_texts(value, info.field_name)


class ScoreData(BaseModel):
    """One pair's score."""

    index: int
    object: Literal["score"] = "score"
    score: float = Field(description="The one-output head's value for (text_1, text_2): the reward or relevance.")


class ScoreResponse(BaseModel):
    """vLLM's ``/score`` response."""

    id: str
    object: Literal["list"] = "list"
    created: int
    model: str
    data: list[ScoreData]
    usage: Usage


class RerankDocument(BaseModel):
    """The document of one result, as sent."""

    text: str | None = None
    multi_modal: None = None


class RerankResult(BaseModel):
    """One document's place: its index in the request and its score."""

    index: int
    document: RerankDocument
    relevance_score: float


class RerankUsage(BaseModel):
    """Token counts of a rerank request."""

    prompt_tokens: int
    total_tokens: int


class RerankResponse(BaseModel):
    """vLLM's ``/rerank`` response: results sorted by ``relevance_score``, best first."""

    id: str
    model: str
    usage: RerankUsage
    results: list[RerankResult]
