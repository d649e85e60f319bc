"""``swiftcls deploy``: serve a trained classifier over HTTP (see docs/serving.md)."""

from __future__ import annotations

from pathlib import Path

from ..config.arguments import DeployArguments, ModelArguments
from ..core.errors import ConfigError
from ..inference.classifier import Classifier
from ..serve.app import api_key, create_app
from ..serve.server import bind, uvicorn_server, warn_if_exposed
from ..serve.service import check_deploy_args

ROUTES = "POST /classify, GET /v1/models, GET /health, GET /metrics, docs at /docs"


def run_deploy(model_args: ModelArguments, args: DeployArguments) -> None:
    """``swiftcls deploy``: check the flags and the port, load the model, serve until SIGINT/SIGTERM."""
    if not (model_args.model or args.adapters):
        raise ConfigError("pass --model (an exported folder or full checkpoint) or --adapters (a LoRA checkpoint).")
    check_deploy_args(args)
    sock = bind(args.host, args.port)  # a busy port fails now, not after minutes of loading
    try:
        clf = Classifier.from_args(model_args, args.adapters, args.device, args.padding_free)
        if args.threshold is not None:
            clf.threshold = args.threshold
        name = args.served_model_name or Path((args.adapters or model_args.model).rstrip("/")).name
        app = create_app(clf, args, name)
        warn_if_exposed(args.host, api_key(args))
        host, port = sock.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        print(f"Serving {name} on http://{host}:{port} ({ROUTES})", flush=True)
        uvicorn_server(app, args).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its graceful shutdown
        pass
    finally:
        sock.close()
