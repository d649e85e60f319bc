"""``swiftcls deploy``: serve a trained classifier over HTTP (see docs/serving.md)."""

from __future__ import annotations

from ..config.arguments import DeployArguments, ModelArguments
from ..serve.service import build_server


def run_deploy(model_args: ModelArguments, args: DeployArguments) -> None:
    """``swiftcls deploy``: serve until interrupted (Ctrl-C)."""
    server = build_server(model_args, args)
    host, port = server.server_address[:2]
    print(f"Serving {server.RequestHandlerClass.service.model_name} on http://{host}:{port} "
          f"(POST /classify, GET /health, GET /v1/models)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
