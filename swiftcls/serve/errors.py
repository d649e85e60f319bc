"""Every refusal as vLLM's error body ``{"error": {"message", "type", "param", "code"}}``, never a bare traceback.

:class:`RequestError` is what the server's own code raises; :func:`install_error_handlers` also maps what
FastAPI and Starlette raise (unknown route, wrong method, validation) and unexpected exceptions (500) to the
same body.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

logger = logging.getLogger(__name__)
_TYPES = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError", 404: "NotFoundError",
          405: "MethodNotAllowedError", 408: "RequestTimeoutError", 413: "RequestTooLargeError",
          422: "UnprocessableEntityError", 500: "InternalServerError", 503: "ServiceUnavailableError",
          504: "GatewayTimeoutError"}
CLOSE = {"Connection": "close"}  # the request body was not read to its end: the next byte is not a request


class RequestError(Exception):
    """A request the server refuses.

    Args:
        status: HTTP status code.
        message: What is wrong and how to fix it, for the client.
        param: The request field at fault, if one is.
        headers: Extra response headers (``Retry-After``, ``Connection: close``, ...).
    """

    def __init__(self, status: int, message: str, param: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.headers = status, message, param, dict(headers or {})
        if status == 503:
            self.headers.setdefault("Retry-After", "1")


def error_body(status: int, message: str, param: str | None = None) -> dict:
    """vLLM's error body ``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": _TYPES.get(status, "Error"), "param": param, "code": status}}


def error_response(status: int, message: str, param: str | None = None, headers: dict | None = None) -> JSONResponse:
    """The JSON error answer (vLLM's shape)."""
    return JSONResponse(error_body(status, message, param), status_code=status, headers=headers)


def validation_message(err: ValidationError | RequestValidationError) -> tuple[str, str | None]:
    """``(message, param)`` of a pydantic error list: our own messages as they are, others with their field."""
    parts, param = [], None
    for e in err.errors():
        loc = [str(x) for x in e.get("loc", ()) if x != "body" and not _union_branch(x)]
        param = param or (loc[0] if loc else None)
        custom = e.get("type") in ("texts", "shape")
        parts.append(e["msg"] if custom or not loc else f"{'.'.join(loc)}: {e['msg']}")
    return "; ".join(dict.fromkeys(parts)) or "invalid request.", param


def _union_branch(part) -> bool:
    """Whether a pydantic error location part names a union member (``str``, ``list[str]``), not a field."""
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool", "list", "dict"))


async def _request_error(request: Request, err: RequestError) -> JSONResponse:
    return error_response(err.status, err.message, err.param, err.headers)


async def _http_error(request: Request, err: HTTPException) -> JSONResponse:
    method, path = request.method, request.url.path
    if err.status_code == 404:
        message = f"no route {method} {path}; see GET /health, GET /v1/models, POST /classify, GET /docs."
    elif err.status_code == 405:
        message = f"{path} takes {(err.headers or {}).get('Allow', 'another method')}, not {method}."
    else:
        message = str(err.detail)
    return error_response(err.status_code, message, headers=err.headers)


async def _validation_error(request: Request, err: RequestValidationError) -> JSONResponse:
    return error_response(422, *validation_message(err))


async def _unexpected(request: Request, err: Exception) -> JSONResponse:
    # Starlette logs it and closes the connection after this answer: it may have been cut short.
    return error_response(500, f"internal error: {type(err).__name__}: {err}", headers=CLOSE)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every refusal of ``app`` with the error body."""
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
