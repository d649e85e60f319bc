"""Connection-level rules on top of uvicorn's HTTP/1.1 protocol: read deadline, connection cap, graceful drain.

uvicorn times out a connection only while it is idle *between* requests, and each received byte resets that
timer, so a client sending one header byte every few seconds holds a connection forever (slow-loris), and a
client that connects and sends nothing is never closed. On a stop, uvicorn closes idle kept-alive connections at
once, so a request already on its way on one of them is lost (the client sees a reset), and the answers of
requests in progress do not say ``Connection: close``, so clients send their next request into a closing socket.
:func:`protocol_class` subclasses uvicorn's own ``H11Protocol`` with:

* ``--read_timeout``: one whole request (headers and body) must arrive within this time of its first byte;
  later the server answers 408 (when it still can) and closes the connection;
* a new connection that sends nothing is closed after ``--keep_alive_timeout``, like an idle kept-alive one;
* ``--max_connections``: a connection opened beyond this many gets 503 and ``Connection: close`` for its first
  request; the connections already open are served as before;
* a graceful drain on SIGTERM/SIGINT: see :class:`Drain`.
"""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .errors import error_body

# Requests already on their way on an idle kept-alive connection when the stop begins arrive within a network
# round trip; they are answered 503 (not reset) if they arrive within this many seconds.
DRAIN_LINGER_S = 1.0


class Drain:
    """Set once the server stops: the app answers new requests 503 with ``Connection: close``.

    Attributes:
        active: Whether the server is stopping.
    """

    def __init__(self):
        self.active = False


def _raw_response(status: int, reason: str, message: str) -> bytes:
    """A complete ``Connection: close`` error answer, written without h11 (no request was parsed)."""
    body = json.dumps(error_body(status, message)).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "connection: close\r\n\r\n")
    return head.encode() + body


async def _over_capacity(scope, receive, send, max_connections: int) -> None:
    body = json.dumps(error_body(503, f"the server has --max_connections {max_connections} connections open; "
                                      "retry shortly.")).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), (b"retry-after", b"1")]})
    await send({"type": "http.response.body", "body": body})


def protocol_class(read_timeout: float, max_connections: int, drain: Drain) -> type[H11Protocol]:
    """uvicorn's ``H11Protocol`` with the rules of this module; pass it as ``uvicorn.Config(http=...)``."""

    class SwiftclsProtocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:  # this connection's request gets 503, then it closes
                self.app = lambda scope, receive, send: _over_capacity(scope, receive, send, max_connections)
            # Idle until its first byte, like a kept-alive connection between requests.
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self.timeout_keep_alive_handler)

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and self.conn.their_state is h11.IDLE:  # the first byte of a request
                self._deadline = self.loop.call_later(read_timeout, self._read_timed_out)
            super().data_received(data)
            if self._deadline is not None and self.conn.their_state is not h11.SEND_BODY \
                    and self.conn.their_state is not h11.IDLE:  # the whole request is in (or the client broke)
                self._cancel_deadline()

        def connection_lost(self, exc) -> None:
            self._cancel_deadline()
            super().connection_lost(exc)

        def _cancel_deadline(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _read_timed_out(self) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            headers_pending = self.conn.their_state is h11.IDLE  # a request's headers are still incomplete
            unanswered = self.cycle is not None and not self.cycle.response_started  # its body is incomplete
            if headers_pending or unanswered:
                self.transport.write(_raw_response(408, "Request Timeout", (
                    f"the request did not arrive within --read_timeout {read_timeout:g} s; send the headers and "
                    "body of a request without pauses.")))
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.disconnected = True  # the app's reads end, and an answer it still sends is dropped
                self.cycle.message_event.set()
            self.transport.close()

        def shutdown(self) -> None:
            """The server stops: finish the request in progress, answer later ones 503, then close."""
            drain.active = True
            if self.cycle is not None and not self.cycle.response_complete:
                self.cycle.keep_alive = False  # the app's drain middleware adds `Connection: close`
                return
            # Idle: keep listening for a request already on its way (it gets 503 and `Connection: close`).
            if self.timeout_keep_alive_task is not None:  # uvicorn's idle timer: the linger below replaces it
                self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = self.loop.call_later(DRAIN_LINGER_S, self._linger_ended)

        def _linger_ended(self) -> None:
            # A request that started arriving is answered (503) or cut by the read deadline, not dropped here.
            if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
                self.timeout_keep_alive_handler()  # uvicorn's own close of an idle connection

    return SwiftclsProtocol
