"""``swiftcls deploy`` options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError
from .fields import arg
from .model import ClassifierArguments


@dataclass
class ServerArguments:
    """The HTTP server: address, authentication, batching and limits."""

    _argument_group_name = "Server"

    host: str = arg("127.0.0.1", "Interface to bind. The default accepts local connections only; 0.0.0.0 exposes the "
                                 "server to the network (then also set --api_key).")
    port: int = arg(8000, "TCP port (0 picks a free one).")
    served_model_name: str | None = arg(None, "Model name in responses and /v1/models (default: the folder name).")
    api_key: str | None = arg(None, "Require 'Authorization: Bearer KEY' on every route but /health (401 otherwise). "
                                    "Default: the SWIFTCLS_API_KEY environment variable, else no key.")
    max_batch_size: int = arg(32, "Most inputs per forward pass; concurrent requests are batched up to this.")
    max_wait_ms: float = arg(5.0, "How long the batcher waits for more requests before running a partial batch.")
    max_inputs: int = arg(64, "Most inputs in one request (more: 422).")
    max_request_bytes: int = arg(1 << 20, "Largest request body in bytes (larger: 413).")
    max_text_length: int = arg(32768, "Longest input text in characters (longer: 422). Texts within it are still "
                                      "cut to the training --max_length tokens, as in training.")
    max_queue: int = arg(256, "Most requests waiting for the model; beyond it the server answers 503.")
    max_concurrency: int = arg(512, "Most requests in progress at once (reading, preparing, queued, running; "
                                    "/health and /metrics not counted); beyond it the server answers 503.")
    request_timeout: float = arg(60.0, "Seconds a request may take from its arrival to the model's answer; later "
                                       "the server answers 504.")
    keep_alive_timeout: float = arg(15.0, "Seconds a connection may stay silent (idle between keep-alive requests: "
                                          "closed; stalled while sending a body: 408) before the server closes it. "
                                          "Behind a load balancer, set it above the balancer's idle timeout.")
    read_timeout: float = arg(30.0, "Seconds a client has to send one whole request, headers and body, from its first "
                                    "byte; slower: 408 and the connection is closed (clients that trickle bytes, "
                                    "slow-loris, cannot hold connections).")
    max_connections: int = arg(1024, "Most open connections; a connection opened beyond it gets 503 with "
                                     "'Connection: close' for its request (open ones are served as before).")
    image_dir: str | None = arg(None, "Folder that image paths in requests must lie inside (VL models). Without it "
                                      "only inline data: URLs are accepted.")
    allow_remote_images: bool = arg(False, "Let requests name http(s) image URLs, which the server then fetches (off "
                                           "by default: no outbound requests on behalf of clients).")
    max_image_bytes: int = arg(10 << 20, "Largest image file, data: URL or download in bytes.")


@dataclass
class DeployArguments(ClassifierArguments, ServerArguments):
    """Every option of ``swiftcls deploy``: ``deploy_main(DeployArguments(model=...))``."""

    def __post_init__(self):
        if not (self.model or self.adapters):
            raise ConfigError("pass --model (an exported folder or full checkpoint) or --adapters (a LoRA "
                              "checkpoint).")
        if self.infer_backend == "vllm":
            raise ConfigError("swiftcls deploy --infer_backend vllm: serve an export with vLLM's own server instead "
                              "(vllm serve DIR --runner pooling, see docs/serving.md); deploy runs pt or onnxruntime.")
        for name in ("max_batch_size", "max_inputs", "max_request_bytes", "max_text_length", "max_queue",
                     "max_concurrency", "max_image_bytes", "max_connections"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1, got {getattr(self, name)}.")
        for name in ("keep_alive_timeout", "request_timeout", "read_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"--{name} must be more than 0 seconds, got {getattr(self, name)}.")
        if self.max_wait_ms < 0:
            raise ConfigError(f"--max_wait_ms must be 0 or more, got {self.max_wait_ms}.")
        if self.image_dir and not Path(self.image_dir).is_dir():
            raise ConfigError(f"--image_dir {self.image_dir} is not a folder.")
