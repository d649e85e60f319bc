"""Run the deploy app with uvicorn: bind the socket first (a busy port fails before the model loads).

uvicorn speaks HTTP/1.1 (keep-alive, pipelining, chunked bodies) and shuts down gracefully on SIGINT and
SIGTERM: it stops accepting, closes idle connections, lets in-flight requests finish, then runs the app's
lifespan shutdown (the micro-batcher finishes what is queued).
"""

from __future__ import annotations

import ipaddress
import logging
import socket

import uvicorn

from ..config.deploy import DeployArguments
from ..core.errors import ConfigError

logger = logging.getLogger(__name__)
BACKLOG = 2048  # many clients connect at once; the kernel queues them until the loop accepts


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one), or a :class:`ConfigError`."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        raise ConfigError(f"cannot listen on {host}:{port} ({err}); check --host.") from err
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart right after a stop (TIME_WAIT)
        sock.bind(address)
        sock.listen(BACKLOG)  # connections made before uvicorn starts wait in the backlog instead of failing
    except OSError as err:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} ({err}); pick another --port.") from err
    return sock


def warn_if_exposed(host: str, api_key: str | None) -> None:
    """Log a warning when a non-loopback address is served without an API key."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not api_key:
        logger.warning("listening on %s without --api_key: anyone who can reach this address can use the model.",
                       host)


def uvicorn_server(app, args: DeployArguments) -> uvicorn.Server:
    """A uvicorn server for ``app``; start it with ``server.run(sockets=[bind(...)])``.

    ``--keep_alive_timeout`` is uvicorn's idle timeout between requests; in-flight requests get up to
    ``--request_timeout`` seconds to finish when the server stops.
    """
    # h11 and asyncio, not uvicorn's "auto" (httptools and uvloop when installed, e.g. with vLLM): one HTTP
    # implementation, the one the tests exercise, whatever else is installed (see docs/benchmarks.md).
    config = uvicorn.Config(app, http="h11", loop="asyncio", timeout_keep_alive=args.keep_alive_timeout,
                            lifespan="on", log_level="warning", access_log=False, backlog=BACKLOG,
                            timeout_graceful_shutdown=args.request_timeout + 1)
    return uvicorn.Server(config)
