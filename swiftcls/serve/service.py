"""The model side of ``swiftcls deploy``: a validated ``/classify``, ``/score`` or ``/rerank`` request in, vLLM's
response out.

Per request: images are fetched and the inputs tokenized on a worker thread (under a lock: the tokenizer is
shared and not thread-safe), so the event loop never waits on them; the rows then wait in the
:class:`~swiftcls.serve.batcher.MicroBatcher` for a forward pass shared with concurrent requests.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import numpy as np
from starlette.concurrency import run_in_threadpool

from ..config.deploy import DeployArguments
from ..core.errors import DataError, SwiftClsError
from ..data.chunking import row_tokens
from ..metrics.classification import logits_to_probs
from .batcher import DeadlineExceeded, MicroBatcher, QueueFull
from .errors import RequestError
from .inputs import ImageFetcher, parse_pairs, parse_request
from .schemas import ClassifyRequest, RerankRequest, ScoreRequest


def _usage(tokens: int) -> dict:
    return {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0,
            "prompt_tokens_details": None, "completion_tokens_details": None}


class ClassifyService:
    """Answers ``/classify``, ``/score``, ``/rerank`` and ``/v1/models`` for one loaded classifier.

    Args:
        classifier: A loaded :class:`swiftcls.Classifier`.
        args: The deploy settings (limits, image rules, batching).
        model_name: Name reported in responses and accepted in the request's ``model`` field.
        on_batch: Called with the row count of each forward pass (metrics).
    """

    def __init__(self, classifier, args: DeployArguments, model_name: str,
                 on_batch: Callable[[int], None] | None = None):
        self.clf, self.args, self.model_name, self.created = classifier, args, model_name, int(time.time())
        self._encode_lock = threading.Lock()
        self.batcher = MicroBatcher(self._forward, args.max_batch_size, args.max_wait_ms / 1000, args.max_queue,
                                    on_batch)

    def _forward(self, rows: list[dict]) -> np.ndarray:
        return self.clf.logits_rows(rows, self.args.max_batch_size)

    def _encode(self, examples: list, fetcher: ImageFetcher) -> list[dict]:
        """Examples encoded (worker thread: file and network reads, tokenizer).

        Whatever the client's input makes encoding raise is a 422 (never a 500), with the server's paths (image
        files, temporary uploads) replaced by what the client sent.
        """
        try:
            with self._encode_lock:
                return self.clf.encode(examples)
        except DataError as err:  # e.g. an unreadable image, too many image tokens
            where = f"input {err.row - 1}: " if err.row else ""  # parse_request numbers inputs from 1
            raise RequestError(422, fetcher.redact(where + err.reason), err.field) from err
        except SwiftClsError as err:
            raise RequestError(422, fetcher.redact(str(err))) from err
        except (UnicodeError, ValueError, OSError) as err:  # bad input the data layer did not name
            raise RequestError(422, fetcher.redact(f"cannot use this input ({type(err).__name__}: {err}).")) from err

    def _check_model(self, name: str | None) -> None:
        if name not in (None, self.model_name):
            raise RequestError(404, f"The model `{name}` does not exist; this server serves "
                                    f"`{self.model_name}`.", "model")

    async def _logits(self, prepare: Callable[[ImageFetcher], list[dict]], deadline: float) -> tuple[np.ndarray, int]:
        """Raw logits of the rows ``prepare(fetcher)`` encodes (worker thread), through the batcher; and their
        token count. ``deadline`` is a ``time.monotonic()`` value (later: 504)."""
        fetcher = ImageFetcher(self.args, text_only=self.clf.encoder.image_processor is None)
        try:
            rows = await run_in_threadpool(prepare, fetcher)
            try:
                logits = await self.batcher.submit(rows, max(0.0, deadline - time.monotonic()))
            except QueueFull as err:
                raise RequestError(503, f"the server is busy ({err}); retry shortly.") from err
            except DeadlineExceeded as err:
                raise RequestError(504, f"no answer within --request_timeout {self.args.request_timeout:g} s "
                                        f"({err}); the server is overloaded: retry later.") from err
        finally:  # the forward pass has read the request's images (or will never run)
            if fetcher.tmp_dir is not None:
                await run_in_threadpool(fetcher.cleanup)
        return logits, sum(map(row_tokens, rows))  # every window of a chunked row

    async def classify(self, req: ClassifyRequest, deadline: float) -> dict:
        """The response to one request; ``deadline`` is a ``time.monotonic()`` value (later: 504)."""
        self._check_model(req.model)
        logits, tokens = await self._logits(
            lambda fetcher: self._encode(parse_request(req, self.args, fetcher), fetcher), deadline)
        # vLLM's use_activation=false returns raw logits instead of softmax/sigmoid scores.
        probs = logits if req.use_activation is False else logits_to_probs(logits, self.clf.problem_type)
        names = self.clf.labels
        data = [{"index": i, "label": names[int(np.argmax(p))], "probs": [float(x) for x in p],
                 "num_classes": len(p), "pred": self.clf.prediction(p)} for i, p in enumerate(probs)]
        return {"id": f"classify-{uuid.uuid4().hex}", "object": "list", "created": int(time.time()),
                "model": self.model_name, "data": data, "usage": _usage(tokens)}

    def check_scorer(self, route: str) -> None:
        """A 400 unless the model has one output (vLLM, too, scores only ``num_labels == 1``); the routes call it
        before reading the body, so a client of the wrong model learns that first."""
        if len(self.clf.labels) != 1:
            raise RequestError(400, f"{route} needs a one-output model (a reward model, a reranker or any "
                                    f"num_labels=1 regression head), and this one has {len(self.clf.labels)} "
                                    f"outputs ({self.clf.problem_type}: {', '.join(self.clf.labels)}); use "
                                    "/classify for it.")

    async def _pair_scores(self, req: ScoreRequest | RerankRequest, first, second, deadline: float,
                           route: str) -> tuple[list[float], int]:
        """One score per (query, document) pair: the one-output head's value (vLLM's cross-encoder score)."""
        self._check_model(req.model)
        self.check_scorer(route)
        logits, tokens = await self._logits(
            lambda fetcher: self._encode(parse_pairs(first, second, self.args), fetcher), deadline)
        return [float(x) for x in logits_to_probs(logits, self.clf.problem_type)[:, 0]], tokens

    async def score(self, req: ScoreRequest, deadline: float) -> dict:
        """vLLM's ``/score`` response: ``data[i].score`` for pair ``i``."""
        scores, tokens = await self._pair_scores(req, *req.sides(), deadline, "/score")
        return {"id": f"score-{uuid.uuid4().hex}", "object": "list", "created": int(time.time()),
                "model": self.model_name, "data": [{"index": i, "object": "score", "score": s}
                                                   for i, s in enumerate(scores)],
                "usage": _usage(tokens)}

    async def rerank(self, req: RerankRequest, deadline: float) -> dict:
        """vLLM's ``/rerank`` response: the documents by score, best first, cut to ``top_n`` when it is set."""
        docs = [req.documents] if isinstance(req.documents, str) else req.documents
        scores, tokens = await self._pair_scores(req, ("query", [req.query]), ("documents", docs), deadline,
                                                 "/rerank")
        order = sorted(range(len(docs)), key=lambda i: -scores[i])  # stable: ties keep the request's order
        results = [{"index": i, "document": {"text": docs[i], "multi_modal": None}, "relevance_score": scores[i]}
                   for i in order[:req.top_n or None]]
        return {"id": f"rerank-{uuid.uuid4().hex}", "model": self.model_name, "results": results,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}

    def models(self) -> dict:
        """The OpenAI-style ``/v1/models`` listing of the one served model."""
        return {"object": "list", "data": [{"id": self.model_name, "object": "model", "created": self.created,
                                            "owned_by": "swiftcls", "root": self.model_name,
                                            "max_model_len": self.clf.encoder.max_length}]}
