"""Request limits applied before any route runs: body size, stalled clients, concurrent requests.

An ASGI middleware, so every route, including one added later, gets them:

* a body announced larger than ``--max_request_bytes`` (``Content-Length``) is refused with 413 before a
  byte of it is read (so uvicorn sends no ``100 Continue``), and the connection is closed; a chunked body is
  counted while it streams in and refused the same way once it passes the limit;
* a client that stops sending in the middle of a body for ``--keep_alive_timeout`` seconds gets 408 and
  the connection is closed (uvicorn itself only times out idle connections between requests);
* more than ``--max_concurrency`` requests in progress: 503 with ``Retry-After`` at once, without waiting;
* while the server stops (:class:`~swiftcls.serve.connections.Drain`): a new request is read and answered 503
  with ``Connection: close``, and answers to requests in progress say ``Connection: close`` too, so that no
  client sends another request into a connection that is closing.
"""

from __future__ import annotations

import asyncio

from .connections import Drain
from .errors import CLOSE, RequestError, error_response

_CLOSE_HEADER = (b"connection", b"close")


class RequestLimits:
    """ASGI middleware enforcing the limits above.

    Args:
        app: The wrapped ASGI app.
        max_body: Largest request body in bytes.
        max_concurrency: Most requests in progress at once (``exempt`` paths not counted).
        stall_timeout: Longest wait for the next piece of a request body, in seconds.
        exempt: Paths outside the concurrency cap (health probes must answer on a busy server).
        drain: Set when the server stops.
    """

    def __init__(self, app, max_body: int, max_concurrency: int, stall_timeout: float, exempt: frozenset[str],
                 drain: Drain):
        self.app, self.max_body, self.max_concurrency = app, max_body, max_concurrency
        self.stall_timeout, self.exempt, self.active, self.drain = stall_timeout, exempt, 0, drain

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")  # h11 already refused malformed ones
        if length.isdigit() and int(length) > self.max_body:
            return await error_response(413, f"request body of {int(length)} bytes is larger than the server's "
                                             f"--max_request_bytes {self.max_body}.", headers=CLOSE)(
                scope, receive, send)
        if self.drain.active:  # read the body first: closing on unread bytes would reset the connection
            try:
                await _read_body(self._limited(receive))
            except RequestError as err:
                return await error_response(err.status, err.message, headers=err.headers)(scope, receive, send)
            return await error_response(503, "the server is shutting down; retry on another replica or once it "
                                             "is back.", headers=CLOSE)(scope, receive, send)
        counted = scope["path"] not in self.exempt
        if counted and self.active >= self.max_concurrency:
            return await error_response(503, f"the server is busy ({self.active} requests in progress, "
                                             f"--max_concurrency {self.max_concurrency}); retry shortly.",
                                        headers={"Retry-After": "1"})(scope, receive, send)
        self.active += counted
        try:
            await self.app(scope, self._limited(receive), self._closing_when_drained(send))
        finally:
            self.active -= counted

    def _closing_when_drained(self, send):
        """``send`` that adds ``Connection: close`` to an answer started while the server stops."""

        async def closing_send(message):
            if message["type"] == "http.response.start" and self.drain.active:
                headers = list(message.get("headers", []))
                if _CLOSE_HEADER not in headers:
                    message = {**message, "headers": [*headers, _CLOSE_HEADER]}
            await send(message)

        return closing_send

    def _limited(self, receive):
        """``receive`` that counts body bytes and times out a stalled sender (both raise :class:`RequestError`)."""
        received, done = 0, False

        async def limited_receive():
            nonlocal received, done
            if done:  # the body is complete: what follows is the disconnect notice, which may take long
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.stall_timeout)
            except asyncio.TimeoutError:
                raise RequestError(408, f"the client sent no data for --keep_alive_timeout {self.stall_timeout:g} "
                                        "s in the middle of the request body.", headers=CLOSE) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                done = not message.get("more_body", False)
                if received > self.max_body:
                    raise RequestError(413, f"request body is larger than the server's --max_request_bytes "
                                            f"{self.max_body} (stopped reading after {received} bytes).",
                                       headers=CLOSE)
            return message

        return limited_receive


async def _read_body(receive) -> None:
    while (await receive()).get("more_body", False):
        pass
