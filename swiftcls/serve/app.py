"""The ``swiftcls deploy`` web app: FastAPI routes, the API key, limits and metrics around one classifier.

Routes: ``POST /classify``, ``/score`` and ``/rerank`` (also under ``/v1/``; ``/v2/rerank``), ``GET /v1/models``,
``GET /metrics``, ``GET /docs`` and ``GET /openapi.json``, and ``GET /health``. With an API key, the key check is a
dependency of the app itself, so every FastAPI route (also one added later with ``@app.get`` or ``include_router``)
requires it; ``/health`` alone is a plain Starlette route outside FastAPI's dependencies, open to load-balancer
probes.
See docs/serving.md ("Server").
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import ClientDisconnect
from starlette.routing import Route

from ..config.deploy import DeployArguments
from ..core.version import __version__
from .connections import Drain
from .errors import CLOSE, RequestError, install_error_handlers
from .inputs import read_request
from .limits import RequestLimits
from .metrics import MetricsMiddleware, ServerMetrics
from .schemas import (
    ClassifyRequest,
    ClassifyResponse,
    ErrorResponse,
    ModelList,
    RerankRequest,
    RerankResponse,
    ScoreRequest,
    ScoreResponse,
)
from .service import ClassifyService

PUBLIC = frozenset({"/health"})
_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 408, 413, 422, 503, 504)}
_REQUESTS = {ClassifyResponse: ClassifyRequest, ScoreResponse: ScoreRequest, RerankResponse: RerankRequest}


def api_key(args: DeployArguments) -> str | None:
    """The key clients must send: ``--api_key``, else ``$SWIFTCLS_API_KEY``, else none."""
    return args.api_key or os.environ.get("SWIFTCLS_API_KEY") or None


_BEARER = HTTPBearer(auto_error=False, description="The server's --api_key (or $SWIFTCLS_API_KEY).")


async def require_key(request: Request,
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
    """The app-wide dependency that refuses a missing or wrong key (401)."""
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, request.app.state.api_key.encode()):  # constant time: leaks no prefix
        raise RequestError(401, "missing or wrong API key: send 'Authorization: Bearer <key>'.",
                           headers={"WWW-Authenticate": "Bearer"})


async def _body(request: Request) -> tuple[bytes, float]:
    """The raw body and the request's deadline (``time.monotonic()``), or a 504/400 when the body does not come.

    Bodies are read here rather than by FastAPI, so the API key is checked first and any Content-Type is accepted.
    """
    timeout = request.app.state.service.args.request_timeout
    deadline = time.monotonic() + timeout
    try:
        return await asyncio.wait_for(request.body(), timeout), deadline
    except asyncio.TimeoutError:
        raise RequestError(504, f"the request body did not arrive within --request_timeout {timeout:g} s.",
                           headers=CLOSE) from None
    except ClientDisconnect:  # gone, or cut by --read_timeout (which answered 408): nobody reads this answer
        raise RequestError(400, "the client disconnected before sending the whole body.", headers=CLOSE) from None


async def classify(request: Request) -> dict:
    """vLLM's ``/classify``: ``input`` (one text or a list) or one chat in ``messages``.

    Send raw text: the server formats it as in training (chat template, system prompt, max length).
    """
    raw, deadline = await _body(request)
    return await request.app.state.service.classify(read_request(raw), deadline)


async def score(request: Request) -> dict:
    """vLLM's ``/score``: ``text_1`` (one query or one per document) against ``text_2``; one-output models only."""
    request.app.state.service.check_scorer("/score")
    raw, deadline = await _body(request)
    return await request.app.state.service.score(read_request(raw, ScoreRequest), deadline)


async def rerank(request: Request) -> dict:
    """vLLM's ``/rerank``: ``query`` and ``documents``, answered best first (``top_n``); one-output models only."""
    request.app.state.service.check_scorer("/rerank")
    raw, deadline = await _body(request)
    return await request.app.state.service.rerank(read_request(raw, RerankRequest), deadline)


async def models(request: Request) -> dict:
    """The OpenAI-style listing of the one served model."""
    return request.app.state.service.models()


async def metrics(request: Request) -> Response:
    """Requests by route and status, latency, batch sizes, queue depth (Prometheus text format)."""
    registry: ServerMetrics = request.app.state.metrics
    return Response(registry.render(), media_type=registry.content_type)


async def openapi(request: Request) -> JSONResponse:
    """The OpenAPI schema (behind the key like every route but /health)."""
    return JSONResponse(_openapi(request.app))


async def docs(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json."""
    return get_swagger_ui_html(openapi_url="/openapi.json", title="swiftcls deploy")


async def health(request: Request) -> JSONResponse:
    """``{"status": "ok", requests, rows, batches, rejected}``: open to probes, no key."""
    return JSONResponse({"status": "ok", **request.app.state.service.batcher.stats})


# POST routes: path, handler, response model, summary. vLLM 0.32 serves /score and /rerank also under /v1/ (and
# /rerank under /v2/, the Cohere path); clients of either server work unchanged.
_POSTS = (("/classify", classify, ClassifyResponse, "Classify texts (vLLM's /classify)"),
          ("/v1/classify", classify, ClassifyResponse, "Same as /classify"),
          ("/score", score, ScoreResponse, "Score (query, document) pairs with a one-output model (vLLM's /score)"),
          ("/v1/score", score, ScoreResponse, "Same as /score"),
          ("/rerank", rerank, RerankResponse, "Rank documents for a query with a one-output model (vLLM's /rerank)"),
          ("/v1/rerank", rerank, RerankResponse, "Same as /rerank"),
          ("/v2/rerank", rerank, RerankResponse, "Same as /rerank"))


def _add_routes(app: FastAPI) -> None:
    app.router.routes.append(Route("/health", health, methods=["GET"]))  # not a FastAPI route: no key
    for path, handler, response, summary in _POSTS:
        body = {"requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{_REQUESTS[response].__name__}"}}}}}
        app.add_api_route(path, handler, methods=["POST"], response_model=response, responses=_ERRORS,
                          openapi_extra=body, summary=summary)
    app.add_api_route("/v1/models", models, methods=["GET"], response_model=ModelList, responses=_ERRORS,
                      summary="The served model")
    app.add_api_route("/metrics", metrics, methods=["GET"], response_class=Response, responses=_ERRORS,
                      summary="Prometheus metrics")
    app.add_api_route("/openapi.json", openapi, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema plus the request bodies of the POST routes, which parse them themselves (see ``_body``)."""
    if app.openapi_schema is None:
        schema = app.openapi()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in _REQUESTS.values():
            request = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(request.pop("$defs", {}), **{model.__name__: request})
        schema["paths"]["/health"] = {"get": {"summary": "Liveness and batcher counters (no key)",
                                              "responses": {"200": {"description": "ok"}}}}
    return app.openapi_schema


def create_app(classifier, args: DeployArguments, model_name: str) -> FastAPI:
    """The web app serving ``classifier`` under the limits and key of ``args``.

    Args:
        classifier: A loaded :class:`swiftcls.Classifier`.
        args: The deploy settings (checked when they were made: ``DeployArguments`` refuses bad limits).
        model_name: Name reported in responses and accepted in the request's ``model`` field.

    Returns:
        A FastAPI app; run it with uvicorn (see :mod:`swiftcls.serve.server`). Its lifespan starts and stops
        the micro-batcher, so with ``TestClient`` use it as a context manager.
    """
    prometheus = ServerMetrics(lambda: service.batcher.depth)
    service = ClassifyService(classifier, args, model_name, prometheus.batch_rows.observe)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.batcher.start()
        try:
            yield
        finally:  # uvicorn has let in-flight requests finish; run what is still queued, then stop
            await service.batcher.close()

    key = api_key(args)
    app = FastAPI(title="swiftcls deploy", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, redirect_slashes=False, dependencies=[Depends(require_key)] if key else [])
    app.state.service, app.state.metrics, app.state.api_key, app.state.drain = service, prometheus, key, Drain()
    install_error_handlers(app)
    _add_routes(app)
    app.add_middleware(RequestLimits, max_body=args.max_request_bytes, max_concurrency=args.max_concurrency,
                       stall_timeout=args.keep_alive_timeout, exempt=PUBLIC | {"/metrics"}, drain=app.state.drain)
    app.add_middleware(MetricsMiddleware, metrics=prometheus, routes=frozenset(r.path for r in app.routes))
    return app
