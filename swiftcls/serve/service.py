"""``swiftcls deploy``: a small HTTP server with vLLM's ``/classify`` request and response format.

Standard library only (``ThreadingHTTPServer``): each connection gets a thread that validates and tokenizes its
request, then waits on the :class:`~swiftcls.serve.batcher.MicroBatcher`, whose single worker thread runs the model
on batches of concurrent requests. Limits (request bytes, inputs, text length, queue) answer 413/422/503
before any model work; ``--api_key`` guards everything but ``/health``. The HTTP/1.1 side (routes, keep-alive
connections, idle timeout) is :mod:`swiftcls.serve.http`. See docs/serving.md ("Server").
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

from ..config.deploy import DeployArguments
from ..core.errors import ConfigError, SwiftClsError
from ..inference.classifier import Classifier
from ..metrics.classification import logits_to_probs
from .batcher import MicroBatcher, QueueFull
from .http import ClassifyHandler, ClassifyServer
from .inputs import ImageFetcher, RequestError, parse_request

logger = logging.getLogger(__name__)


class ClassifyService:
    """The model side of the server: request body in, vLLM-style response dict out.

    Args:
        classifier: A loaded :class:`swiftcls.Classifier`.
        args: The deploy settings (limits, image rules, batching).
        model_name: Name reported in responses and accepted in the request's ``model`` field.
    """

    def __init__(self, classifier, args: DeployArguments, model_name: str):
        self.clf, self.args, self.model_name, self.created = classifier, args, model_name, int(time.time())
        self._encode_lock = threading.Lock()  # the tokenizer is shared and not thread-safe
        self.batcher = MicroBatcher(self._forward, args.max_batch_size, args.max_wait_ms / 1000, args.max_queue)

    def _forward(self, rows: list[dict]) -> np.ndarray:
        return self.clf.logits_rows(rows, self.args.max_batch_size)

    def classify(self, body) -> dict:
        """Answer one ``/classify`` body (raises :class:`RequestError` for refused requests)."""
        if isinstance(body, dict) and body.get("model") not in (None, self.model_name):
            raise RequestError(404, f"The model `{body['model']}` does not exist; this server serves "
                                    f"`{self.model_name}`.", "model")
        tmp = Path(tempfile.mkdtemp(prefix="swiftcls-req-"))
        try:
            text_only = self.clf.encoder.image_processor is None
            examples = parse_request(body, self.args, ImageFetcher(self.args, tmp, text_only))
            try:
                with self._encode_lock:
                    rows = self.clf.encode(examples)
            except SwiftClsError as err:  # e.g. an unreadable image, too many image tokens
                raise RequestError(422, str(err)) from err
            try:
                logits = self.batcher.submit(rows)
            except QueueFull as err:
                raise RequestError(503, f"the server is busy ({err}); retry shortly.") from err
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # vLLM's use_activation=false returns raw logits instead of softmax/sigmoid scores.
        raw = isinstance(body, dict) and body.get("use_activation") is False
        return self._response(logits if raw else logits_to_probs(logits, self.clf.problem_type), rows)

    def _response(self, probs: np.ndarray, rows: list[dict]) -> dict:
        names, tokens = self.clf.labels, sum(len(r["input_ids"]) for r in rows)
        data = [{"index": i, "label": names[int(np.argmax(p))], "probs": [float(x) for x in p],
                 "num_classes": len(p), "pred": self.clf.prediction(p)} for i, p in enumerate(probs)]
        return {"id": f"classify-{uuid.uuid4().hex}", "object": "list", "created": int(time.time()),
                "model": self.model_name, "data": data,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0,
                          "prompt_tokens_details": None, "completion_tokens_details": None}}

    def models(self) -> dict:
        """The OpenAI-style ``/v1/models`` listing of the one served model."""
        return {"object": "list", "data": [{"id": self.model_name, "object": "model", "created": self.created,
                                            "owned_by": "swiftcls", "root": self.model_name,
                                            "max_model_len": self.clf.encoder.max_length}]}


def build_server(args: DeployArguments, classifier=None) -> ClassifyServer:
    """Load the model (unless ``classifier`` is given) and bind the server; call ``serve_forever()`` to run it."""
    clf = classifier or Classifier.from_args(args)
    source = (args.adapters or args.model).rstrip("/")
    name = args.served_model_name or Path(source).name
    api_key = args.api_key or os.environ.get("SWIFTCLS_API_KEY") or None
    handler = type("Handler", (ClassifyHandler,), {"service": ClassifyService(clf, args, name), "api_key": api_key,
                                                   "timeout": args.keep_alive_timeout})
    try:
        server = ClassifyServer((args.host, args.port), handler)
    except OSError as err:
        raise ConfigError(f"cannot listen on {args.host}:{args.port} ({err}); pick another --port.") from err
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback and not api_key:
        logger.warning("listening on %s without --api_key: anyone who can reach this address can use the model.",
                       args.host)
    return server
