"""Run the deploy app with uvicorn: bind the socket first (a busy port fails before the model loads).

uvicorn speaks HTTP/1.1 (keep-alive, pipelining, chunked bodies), with swiftcls's connection rules
(:mod:`~swiftcls.serve.connections`: read deadline, connection cap). On SIGINT or SIGTERM it stops gracefully:
it stops accepting, lets in-flight requests finish (their answers say ``Connection: close``), answers requests
that arrive meanwhile on open connections 503, closes idle connections, then runs the app's lifespan shutdown
(the micro-batcher finishes what is queued); :func:`serve` then returns.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import threading

import uvicorn

from ..config.deploy import DeployArguments
from ..core.errors import ConfigError
from .connections import protocol_class

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
    """A uvicorn server for ``app`` (from :func:`~swiftcls.serve.app.create_app`); run it with :func:`serve`.

    ``--keep_alive_timeout`` is uvicorn's idle timeout between requests; in-flight requests get up to
    ``--request_timeout`` seconds to finish when the server stops.
    """
    # h11 and asyncio, not uvicorn's "auto" (httptools and uvloop when installed, e.g. with vLLM): one HTTP
    # implementation, the one the tests exercise, whatever else is installed (see docs/benchmarks.md).
    config = uvicorn.Config(app, http="h11", loop="asyncio", timeout_keep_alive=args.keep_alive_timeout,
                            lifespan="on", log_level="warning", access_log=False, backlog=BACKLOG,
                            timeout_graceful_shutdown=args.request_timeout + 1)
    config.http = protocol_class(args.read_timeout, args.max_connections, app.state.drain)
    return uvicorn.Server(config)


class _Stopped(Exception):
    """SIGTERM arrived (raised by the handler uvicorn calls again after its graceful shutdown)."""


def _stopped(signum, frame):
    raise _Stopped


def serve(server: uvicorn.Server, sock: socket.socket) -> None:
    """Run ``server`` on ``sock`` until SIGINT or SIGTERM; returns after the graceful shutdown.

    uvicorn re-sends the signal that stopped it once it has shut down, to the handler that was there before;
    without one, SIGTERM would then kill the process (exit status -15) instead of letting it exit normally.
    """
    main = threading.current_thread() is threading.main_thread()  # signal handlers only in the main thread
    previous = signal.signal(signal.SIGTERM, _stopped) if main else None
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stopped):  # uvicorn re-raises the signal after its graceful shutdown
        pass
    finally:
        if main and previous is not None:  # None: a handler installed outside Python, which cannot be restored
            signal.signal(signal.SIGTERM, previous)
