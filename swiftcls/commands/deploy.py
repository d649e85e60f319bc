"""``swiftcls deploy``: serve a trained classifier over HTTP (see docs/serving.md)."""

from __future__ import annotations

from collections.abc import Sequence

from ..config.deploy import DeployArguments
from ..config.parser import to_arguments
from ..serve.service import build_server


def deploy_main(args: DeployArguments | Sequence[str] | dict | None = None) -> None:
    """Serve a trained classifier until interrupted (``swiftcls deploy``).

    Args:
        args: A :class:`DeployArguments`, the command-line flags, or a dict of option values.
    """
    args = to_arguments(DeployArguments, args, "swiftcls deploy")
    server = build_server(args)
    host, port = server.server_address[:2]
    print(f"Serving {server.RequestHandlerClass.service.model_name} on http://{host}:{port} "
          f"(POST /classify, GET /health, GET /v1/models)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
