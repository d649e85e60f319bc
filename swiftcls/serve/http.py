"""The HTTP/1.1 side of ``swiftcls deploy``: routes, persistent connections, idle timeouts, shutdown.

Connections are kept open between requests (HTTP/1.1 keep-alive), so every response carries a
``Content-Length`` and every request body is either read to its end or the connection is closed after the
answer (``Connection: close``): the next request on a connection must start at the right byte. The model
side lives in :class:`swiftcls.serve.service.ClassifyService`; see docs/serving.md ("Server").
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .inputs import RequestError

logger = logging.getLogger(__name__)
_ERROR_TYPES = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError",
                404: "NotFoundError", 405: "MethodNotAllowedError", 411: "BadRequestError",
                413: "RequestTooLargeError", 422: "UnprocessableEntityError", 500: "InternalServerError",
                503: "ServiceUnavailableError"}
_ROUTES = {"/health": "GET", "/v1/models": "GET", "/classify": "POST", "/v1/classify": "POST"}


class ClassifyHandler(BaseHTTPRequestHandler):
    """One thread per connection; it answers requests on that connection until the client closes it or idles.

    ``build_server`` subclasses it with ``service`` (a ``ClassifyService``), ``api_key`` and ``timeout`` (the
    ``--keep_alive_timeout``: the longest wait for client data, between requests or inside one).
    """

    protocol_version = "HTTP/1.1"
    server_version = "swiftcls"
    timeout = 15.0
    # Headers and body go out in two writes; with Nagle's algorithm on, the second waits for the client's
    # delayed ACK of the first (~40 ms per response on a kept-alive connection).
    disable_nagle_algorithm = True
    service = None
    api_key: str | None = None

    def log_message(self, fmt, *args):  # the default writes every request to stderr
        logger.debug("%s " + fmt, self.address_string(), *args)

    def _send(self, status: int, payload, headers: dict | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if self.close_connection:  # an HTTP/1.0 client, `Connection: close`, or a body we did not read
            self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0":  # an HTTP/1.0 client that asked for keep-alive
            self.send_header("Connection", "keep-alive")
        self.end_headers()
        self.wfile.write(data)
        self._responded = True

    def _error(self, status: int, message: str, param: str | None = None, close: bool = False, **headers) -> None:
        self.close_connection = self.close_connection or close
        if status == 503:
            headers["Retry-After"] = "1"
        self._send(status, {"error": {"message": message, "type": _ERROR_TYPES.get(status, "Error"),
                                      "param": param, "code": status}}, headers)

    def _too_large(self, length: int) -> bool:
        """Answer 413 and close without reading a body over ``--max_request_bytes`` (True when it did)."""
        limit = self.service.args.max_request_bytes
        if length > limit:
            self._error(413, f"request body of {length} bytes is larger than the server's "
                             f"--max_request_bytes {limit}.", close=True)
        return length > limit

    def _read_body(self) -> bytes | None:
        """The whole request body, or None after an error answer that closes the connection.

        Reading it all, even for requests that are then refused (401, 404, ...), keeps the connection usable.
        """
        if "Transfer-Encoding" in self.headers:  # its end cannot be found without decoding the chunks
            self._error(411, "send the body with a Content-Length header (chunked bodies are not accepted).",
                        close=True)
            return None
        lengths = set(self.headers.get_all("Content-Length") or [])
        if not lengths:
            return b""  # HTTP/1.1: no Content-Length and no Transfer-Encoding means no body
        length = lengths.pop().strip()
        if lengths or not (length.isascii() and length.isdigit()):
            self._error(400, "invalid or repeated Content-Length header.", close=True)
            return None
        if self._too_large(int(length)):
            return None
        data = self.rfile.read(int(length))
        if len(data) < int(length):  # the client stopped sending: nothing more can come on this connection
            self._error(400, f"the body ended after {len(data)} of {length} bytes.", close=True)
            return None
        return data

    def handle_expect_100(self) -> bool:
        # curl sends `Expect: 100-continue` before large bodies: refuse an oversized one before it is sent.
        length = self.headers.get("Content-Length", "").strip()
        if length.isascii() and length.isdigit() and self._too_large(int(length)):
            return False
        return super().handle_expect_100()

    def _authorized(self) -> bool:
        if not self.api_key:
            return True
        given = self.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {self.api_key}".encode()):
            return True
        self._error(401, "missing or wrong API key: send 'Authorization: Bearer <key>'.")
        return False

    def _handle(self) -> None:
        """Every method goes through here, so each request gets exactly one complete answer."""
        self._responded = False
        try:
            self._route()
        except (TimeoutError, ConnectionError) as err:  # the client went quiet or away: drop the connection
            logger.debug("connection dropped: %r", err)
            self.close_connection = True
        except Exception as err:  # noqa: BLE001 - one bad request must not kill the server
            logger.exception("request failed")
            if self._responded:  # the answer may be cut short: do not reuse the connection
                self.close_connection = True
            else:
                self._error(500, f"internal error: {type(err).__name__}: {err}", close=True)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 - http.server's naming

    def _route(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path = self.path.split("?", 1)[0]
        method = _ROUTES.get(path)
        if method is None:
            return self._error(404, f"no route {self.command} {path}; see GET /health, GET /v1/models, "
                                    "POST /classify.")
        if method != self.command:
            return self._error(405, f"{path} takes {method}, not {self.command}.", Allow=method)
        if path == "/health":
            return self._send(200, {"status": "ok", **self.service.batcher.stats})
        if not self._authorized():
            return None
        if path == "/v1/models":
            return self._send(200, self.service.models())
        try:
            parsed = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:  # RecursionError: nested too deep
            return self._error(422, f"the body is not valid JSON ({type(err).__name__}: {err}).")
        try:
            return self._send(200, self.service.classify(parsed))
        except RequestError as err:
            return self._error(err.status, err.message, err.param)


class ClassifyServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with a deeper listen backlog, daemon threads and a tally of its connections.

    Attributes:
        connections: Connections accepted so far (with keep-alive, fewer than requests answered).
    """

    daemon_threads = True
    request_queue_size = 256  # many clients connect at once

    def __init__(self, *args, **kwargs):
        self.connections, self._open, self._lock = 0, set(), threading.Lock()
        super().__init__(*args, **kwargs)

    def finish_request(self, request, client_address) -> None:
        with self._lock:
            self.connections += 1
            self._open.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._lock:
                self._open.discard(request)

    def close(self) -> None:
        """Stop accepting, finish the queued model work, then end the connections still open.

        Shutting down their reading side wakes threads waiting for a next request; answers being written
        still go out.
        """
        self.shutdown()
        self.server_close()
        self.RequestHandlerClass.service.batcher.close()
        with self._lock:
            still_open = list(self._open)
        for sock in still_open:
            try:
                sock.shutdown(socket.SHUT_RD)
            except OSError:  # already closed by its thread
                pass
