"""SWIFT's launch convention: ``NPROC_PER_NODE=8 swiftcls sft ...`` re-runs itself under torchrun."""

from __future__ import annotations

import os
import subprocess
import sys

# Variables SWIFT users set; each maps to a torchrun flag.
_TORCHRUN_FLAGS = {"NPROC_PER_NODE": "--nproc_per_node", "NNODES": "--nnodes", "NODE_RANK": "--node_rank",
                   "MASTER_ADDR": "--master_addr", "MASTER_PORT": "--master_port"}


def torchrun_command(argv: list[str], env: dict[str, str] | None = None) -> list[str] | None:
    """The torchrun command line to re-launch with, or None when no re-launch is wanted.

    A re-launch happens when ``NPROC_PER_NODE`` or ``NNODES`` is set and the process is not already a
    torchrun worker (``LOCAL_RANK`` unset), so plain ``torchrun -m swiftcls ...`` keeps working too.
    """
    env = dict(os.environ if env is None else env)
    if "LOCAL_RANK" in env or not (env.get("NPROC_PER_NODE") or env.get("NNODES")):
        return None
    cmd = [sys.executable, "-m", "torch.distributed.run"]
    for var, flag in _TORCHRUN_FLAGS.items():
        if env.get(var):
            cmd.append(f"{flag}={env[var]}")
    if not env.get("NNODES") or env.get("NNODES") == "1":
        if not env.get("MASTER_PORT"):
            cmd.append("--standalone")
    return [*cmd, "-m", "swiftcls", *argv]


def maybe_relaunch(argv: list[str]) -> int | None:
    """Run ``argv`` under torchrun if the environment asks for it; returns its exit code, else None."""
    cmd = torchrun_command(argv)
    if cmd is None:
        return None
    print(f"[swiftcls] launching: {' '.join(cmd)}", file=sys.stderr)
    return subprocess.call(cmd)
