"""``swiftcls deploy``: serve a trained classifier over HTTP (see docs/serving.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..config.deploy import DeployArguments
from ..config.parser import to_arguments
from ..inference.classifier import Classifier
from ..serve.app import api_key, create_app
from ..serve.server import bind, serve, uvicorn_server, warn_if_exposed

ROUTES = "POST /classify, GET /v1/models, GET /health, GET /metrics, docs at /docs"
SCORE_ROUTES = "POST /score, POST /rerank"  # one-output models only


def deploy_main(args: DeployArguments | Sequence[str] | dict | None = None) -> None:
    """Serve a trained classifier until SIGINT or SIGTERM (``swiftcls deploy``).

    The options are checked and the port is bound before the model loads, so a bad limit or a busy port fails
    at once. On SIGINT/SIGTERM, requests in progress finish before the server exits.

    Args:
        args: A :class:`DeployArguments`, the command-line flags, or a dict of option values.
    """
    args = to_arguments(DeployArguments, args, "swiftcls deploy")
    sock = bind(args.host, args.port)
    try:
        clf = Classifier.from_args(args)
        name = args.served_model_name or Path((args.adapters or args.model).rstrip("/")).name
        app = create_app(clf, args, name)
        warn_if_exposed(args.host, api_key(args))
        host, port = sock.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        routes = f"{ROUTES}, {SCORE_ROUTES}" if len(clf.labels) == 1 else ROUTES
        print(f"Serving {name} on http://{host}:{port} ({routes})", flush=True)
        serve(uvicorn_server(app, args), sock)
    finally:
        sock.close()
